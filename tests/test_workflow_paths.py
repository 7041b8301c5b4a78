"""The CI workflows start on every change to a site's program. Their `paths:` filters are a copy of
ops.stacks.PROGRAM_PATHS; a path missing there (as sitespec/ once was) means a change to every
site that no preview shows for review and no ring applies. PROGRAM_PATHS itself must hold every
file the program and the policy pack load."""

import ast
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ops.stacks import workflow_paths

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


@pytest.mark.parametrize("workflow, event", [("preview.yml", "pull_request"), ("up.yml", "push")])
def test_workflow_path_filter_is_the_program_paths(workflow, event):
    doc = YAML(typ="safe").load((WORKFLOWS / workflow).read_text())
    assert sorted(doc["on"][event]["paths"]) == workflow_paths(), (
        f".github/workflows/{workflow}: set on.{event}.paths to {workflow_paths()} (ops/stacks.py PROGRAM_PATHS)")


def _local_files(entry: Path) -> set[str]:
    """Every repository file a Python entry point loads: its local imports, followed, and the
    files its packages keep in git beside their modules (the components' scripts)."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = path.relative_to(ROOT).parent.parts
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):  # `from ..x import y`: x in the package `level` up
                parts = package[:len(package) + 1 - node.level] if node.level else ()
                module = ".".join(parts + ((node.module,) if node.module else ()))
                names = [module] + [f"{module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                base = ROOT.joinpath(*name.split("."))
                todo += [c for c in (base.with_suffix(".py"), base / "__init__.py") if c.is_file()]
    files = {p.relative_to(ROOT).as_posix() for p in seen}
    packages = sorted({p.parent.relative_to(ROOT).as_posix() for p in seen if p.name == "__init__.py"})
    tracked = subprocess.run(["git", "ls-files", "--", *packages], cwd=ROOT, capture_output=True, text=True, check=True)
    return files | set(tracked.stdout.split())


@pytest.mark.parametrize("entry", ["__main__.py", "policy/__main__.py"])
def test_the_program_paths_hold_every_file_the_program_loads(entry):
    from ops.stacks import PROGRAM_PATHS

    files = _local_files(ROOT / entry)
    assert "sitespec/guide.py" in files and any(f.startswith(("components/", "policy/rules/")) for f in files)
    outside = sorted(f for f in files if not f.startswith(PROGRAM_PATHS))
    assert not outside, f"{entry} loads {outside}, outside ops/stacks.py PROGRAM_PATHS: add them there and run the workflow test"
