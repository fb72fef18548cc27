"""Import blocks for generated modules, sorted the way ruff's isort sorts them."""

import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field

_STDLIB = {
    "asyncio",
    "base64",
    "collections.abc",
    "datetime",
    "decimal",
    "enum",
    "json",
    "typing",
    "uuid",
}


_DIGITS = re.compile(r"(\d+)")

NaturalKey = tuple[tuple[int, int | str], ...]


def _natural(text: str) -> NaturalKey:
    """`text` in natural order: runs of digits compare as numbers (item2 < item10)."""
    return tuple(
        (0, int(chunk)) if chunk.isdigit() else (1, chunk) for chunk in _DIGITS.split(text) if chunk
    )


def module_key(module: str) -> tuple[NaturalKey, NaturalKey]:
    """The order of modules in an import block: ruff's isort, case-insensitive, natural."""
    return (_natural(module.lower()), _natural(module))


def name_key(name: str) -> tuple[int, NaturalKey, NaturalKey]:
    """The order of imported names and of `__all__` (ruff's isort and RUF022).

    CONSTANTS, then Classes, then other names; natural order within each.
    """
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return (kind, _natural(name.lower()), _natural(name))


@dataclass
class Imports:
    """Collects `import x` and `from x import y` lines, then renders sorted sections."""

    modules: set[str] = field(default_factory=set)
    names: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, module: str, *names: str) -> "Imports":
        """Add `import module`, or `from module import names`."""
        if names:
            self.names[module].update(names)
        else:
            self.modules.add(module)
        return self

    def render(self) -> str:
        """Sections stdlib, third party and `app`, separated by blank lines."""
        sections: list[list[str]] = [[], [], []]
        for module in sorted(self.modules, key=module_key):
            sections[self._section(module)].append(f"import {module}")
        for module in sorted(self.names, key=module_key):
            names = ", ".join(sorted(self.names[module], key=name_key))
            sections[self._section(module)].append(f"from {module} import {names}")
        return "\n\n".join("\n".join(lines) for lines in sections if lines)

    @staticmethod
    def _section(module: str) -> int:
        root = module.split(".")[0]
        if module in _STDLIB or root in sys.stdlib_module_names:
            return 0
        return 2 if root == "app" else 1
