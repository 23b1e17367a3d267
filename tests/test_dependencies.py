"""Dependency hygiene, read from the source: every package rillchat imports is one it declares (not one that
happens to arrive through another), and no code here imports another package's private modules or names."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "rillchat"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    """The distributions pyproject.toml names for run time: the dependencies and every extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project.get("optional-dependencies", {}).values() for r in extra),
    ]
    return {_normal(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]) for requirement in requirements}


def _imports(tree: ast.AST) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) for every absolute import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def _sources(*folders: Path) -> Iterator[tuple[Path, ast.AST]]:
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def test_every_package_imported_at_run_time_is_declared() -> None:
    declared = _declared() | {"rillchat"}
    distributions = packages_distributions()
    undeclared = set()
    for path, tree in _sources(PACKAGE):
        for line, module, _ in _imports(tree):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "rillchat":
                continue
            owners = {_normal(d) for d in distributions.get(top, [top])}
            if not owners & declared:
                undeclared.add(f"{path.relative_to(ROOT)}:{line}: {module} (from {', '.join(sorted(owners))})")
    assert not undeclared, "imported but not declared in pyproject.toml:\n" + "\n".join(sorted(undeclared))


def test_no_private_modules_or_names_of_other_packages_are_imported() -> None:
    private = []
    for path, tree in _sources(PACKAGE, ROOT / "tests", ROOT / "bench"):
        for line, module, names in _imports(tree):
            if module.split(".")[0] in {"rillchat", "tests", "bench", "__future__"}:
                continue
            hidden = [part for part in module.split(".") if part.startswith("_") and not part.startswith("__")]
            hidden += [name for name in names if name.startswith("_") and not name.startswith("__")]
            if hidden:
                private.append(f"{path.relative_to(ROOT)}:{line}: {module} ({', '.join(hidden)})")
    assert not private, "private names of other packages:\n" + "\n".join(private)
