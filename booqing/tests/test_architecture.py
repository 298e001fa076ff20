"""The shape of the code (issue 10), checked with every test run so it cannot drift back.

The contracts themselves live in pyproject.toml under [tool.importlinter].
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Product packages where an import inside a function needs a comment saying why it cannot be
# at the top (an optional dependency, AppConfig.ready...).
CHECKED_PACKAGES = ["booqing", "core", "tenants", "whatsapp"]
SKIPPED_PARTS = {"tests", "migrations", "simulator"}


def test_the_import_contracts_hold():
    # A process of its own: the contracts see the code on disk, not what this run imported.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command;"
            " sys.exit(lint_imports_command())",
            "--no-cache",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"


def _unexplained_local_imports(path: Path) -> list[str]:
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body_start = function.body[0].lineno
        for node in ast.walk(function):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            # A comment anywhere from the top of the function's body to the import's last line.
            span = lines[body_start - 1 : node.end_lineno]
            if not any("#" in line for line in span):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1]}")
    return sorted(set(found))


def test_imports_inside_functions_say_why():
    found = []
    for package in CHECKED_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if SKIPPED_PARTS & set(path.relative_to(ROOT).parts):
                continue
            found += _unexplained_local_imports(path)
    assert not found, "Import at the top, or say why it cannot be:\n" + "\n".join(found)
