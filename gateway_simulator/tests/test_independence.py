"""The simulator stands alone: nothing in the package imports the product or Django, so it runs
(and is tested) without them. A plain AST scan, so it holds even where import-linter is not run."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
FORBIDDEN = {"booqing", "core", "tenants", "whatsapp", "django"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_nothing_in_the_package_imports_the_product_or_django():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10  # the scan really sees the package
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_roots(path) & FORBIDDEN) for path in files
    }
    assert {name: roots for name, roots in offenders.items() if roots} == {}
