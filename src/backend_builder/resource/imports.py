"""Import blocks for generated modules, sorted the way ruff's isort sorts them."""

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


def _name_key(name: str) -> tuple[int, str]:
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


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
        for module in sorted(self.modules):
            sections[self._section(module)].append(f"import {module}")
        for module in sorted(self.names, key=str.lower):
            names = ", ".join(sorted(self.names[module], key=_name_key))
            sections[self._section(module)].append(f"from {module} import {names}")
        return "\n\n".join("\n".join(lines) for lines in sections if lines)

    @staticmethod
    def _section(module: str) -> int:
        root = module.split(".")[0]
        if module in _STDLIB or root in sys.stdlib_module_names:
            return 0
        return 2 if root == "app" else 1
