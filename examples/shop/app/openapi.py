"""Write the API's OpenAPI document to a file, for client generators.

    python -m app.openapi clients/openapi.json

`make client-ts` runs it, then turns the document into TypeScript types.
"""

import json
import sys
from pathlib import Path

from app.main import app


def write(path: Path) -> None:
    """Write the document to `path`, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(app.openapi(), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "openapi.json"))
