"""The code's shape stays one a newcomer can hold: modules by job, none over 400 lines, no
import cycles, no links in git, and every setting read through ivr/settings.py."""

import ast
import re
import subprocess

import pytest

from ivr import ROOT

PACKAGE = ROOT / "ivr"
MAX_LINES = 400


def modules() -> dict[str, ast.Module]:
    """ivr's modules by dotted name, parsed."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = (path, ast.parse(path.read_text(encoding="utf-8")))
    return found


def imports(name: str, path, tree: ast.Module, known) -> set[str]:
    """The ivr modules `name` imports at its top level (imports inside functions are late
    on purpose, and cannot make a cycle at import time)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ivr")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if not base.startswith("ivr"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return found - {name}


def test_no_module_is_over_400_lines():
    long = {str(path.relative_to(ROOT)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_no_import_cycles():
    found = modules()
    graph = {name: imports(name, path, tree, found) for name, (path, tree) in found.items()}
    # A package's __init__ importing its own parts is how a package shows its face: not a cycle.
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    cycles = []

    def visit(node, stack):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        for nxt in graph.get(node, ()):
            visit(nxt, stack + [node])

    for start in graph:
        visit(start, [])
    assert cycles == []


def test_git_holds_no_links():
    listed = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode:
        pytest.skip("not a git checkout")
    assert [line for line in listed.stdout.splitlines() if line.startswith("120000")] == []


def test_settings_are_read_only_through_the_settings_module():
    """No module but ivr/settings.py reads the environment or a setting's raw value."""
    # Reads only: Flask's own keys are written where the app is set up.
    raw = re.compile(r"os\.environ|getenv|config\[\"[A-Z_]+\"\](?! =)|config\.get\(")
    allowed = {"ivr/settings/__init__.py", "ivr/startup.py"}  # startup: gunicorn's own SERVER_SOFTWARE
    found = {}
    for path in PACKAGE.rglob("*.py"):
        where = str(path.relative_to(ROOT))
        hits = raw.findall(path.read_text(encoding="utf-8"))
        if hits and where not in allowed:
            found[where] = hits
    assert found == {}
