"""The maps of the code stay true: every module of the command line is named in
canfar_cli/cli/__init__.py's docstring, and every module and package of canfar_cli in the README's
layout table. A new module fails here until it is put on the map."""

from __future__ import annotations

import canfar_cli.cli
from tests.support import REPO

PACKAGE = REPO / "canfar_cli"


def test_every_cli_module_is_on_the_cli_map() -> None:
    text = canfar_cli.cli.__doc__ or ""
    missing = [
        path.name
        for path in sorted((PACKAGE / "cli").glob("*.py"))
        if path.name != "__init__.py" and path.name not in text
    ]
    assert missing == [], f"add these to the docstring of canfar_cli/cli/__init__.py: {missing}"


def test_every_module_and_package_is_in_the_readme_layout() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## How the code is laid out") :]
    table = table[: table.index("\n## ")]
    missing = [
        path.name
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name not in ("__init__.py", "__main__.py") and f"{path.name}`" not in table
    ]
    missing += [
        f"{path.name}/"
        for path in sorted(PACKAGE.iterdir())
        if path.is_dir()
        and (path / "__init__.py").exists()
        and f"canfar_cli/{path.name}/" not in table
    ]
    assert missing == [], f"add these to the README's layout table: {missing}"
