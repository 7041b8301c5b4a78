"""The folder layout is the architecture: these tests keep the arrows pointing one way and the
layout table (docs/layout.md) true to the tree."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("components", "sitespec", "ops", "policy")


def imports_of(path: Path) -> set[str]:
    """Top-level first-party packages a module imports (relative imports stay in its own package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names if n.split(".")[0] in FIRST_PARTY}
    return found


def modules(package: str) -> list[Path]:
    """The package's own modules (not the policy pack's virtualenv, which the e2e suite creates)."""
    return sorted(m for m in (ROOT / package).rglob("*.py") if "venv" not in m.relative_to(ROOT).parts[1:2])


# package -> first-party packages it may import besides itself
ALLOWED = {
    "sitespec": set(),
    "components": {"sitespec"},
    "ops": {"sitespec"},
    "policy": {"sitespec"},
}


# module -> what it may import besides its package's ALLOWED
ALSO = {"ops/schema.py": {"policy"}}  # generates docs/policy-rules.md from the rules themselves


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_at_the_domain_only(package):
    wrong = {
        str(m.relative_to(ROOT)): sorted(imports_of(m) - ALLOWED[package] - {package} - ALSO.get(str(m.relative_to(ROOT)), set()))
        for m in modules(package)
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def ops_modules_imported_by(path: Path) -> set[str]:
    """The ops modules a module of ops imports: `from .x import`, `from . import x`,
    `from ops.x import`, `from ops import x` or `import ops.x`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            dotted = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = ".".join(filter(None, ["ops" if node.level == 1 else "", node.module]))
            dotted = [f"{module}.{a.name}" for a in node.names] if module == "ops" else [module]
        else:
            continue
        found |= {d.split(".")[1] for d in dotted if d.startswith("ops.")}
    return found


def test_no_command_imports_another_command():
    # What two commands share lives in a private module (ops/_*.py), so each command can change alone.
    commands = {m.stem for m in (ROOT / "ops").glob("*.py") if not m.name.startswith("_")}
    wrong = {
        f"ops/{c}.py": sorted(ops_modules_imported_by(ROOT / "ops" / f"{c}.py") & (commands - {c}))
        for c in commands
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_domain_imports_no_pulumi():
    # Reading the stack, secret Outputs and the engine's error type belong to the program's edge.
    for m in modules("sitespec"):
        assert not re.search(r"^\s*(import|from)\s+pulumi", m.read_text(), re.M), m


def test_no_module_reads_the_sdks_private_config_state():
    program = [ROOT / "__main__.py"] + [m for p in FIRST_PARTY for m in modules(p)]
    assert [str(m.relative_to(ROOT)) for m in program if re.search(r"runtime\.config\.|_SECRET_KEYS", m.read_text())] == []


def test_policy_pack_modules_of_the_domain_need_only_the_standard_library():
    # The pack runs in its own virtualenv (pulumi + pulumi_policy only).
    stdlib_only = {"sizing", "imageref", "facts", "guide", "quantity"}
    used = set()
    for m in modules("policy"):
        for mod, name in re.findall(r"from sitespec(?:\.(\w+))? import (\w+)", m.read_text()):
            used.add(mod or name)
    assert used and used <= stdlib_only, used
    for name in stdlib_only:
        assert imports_of(ROOT / "sitespec" / f"{name}.py") == set()
        third = re.findall(r"^\s*(?:import|from)\s+(pydantic|ruamel|pulumi\w*|docker)\b", (ROOT / "sitespec" / f"{name}.py").read_text(), re.M)
        assert third == [], (name, third)


def test_components_holds_components_only():
    for m in modules("components"):
        if m.name == "__init__.py":
            continue
        assert re.search(r"class \w+\(pulumi\.ComponentResource\)", m.read_text()), f"{m.name} defines no component"


def test_every_component_takes_one_documented_args_class():
    # As in pulumi/examples: (name, args: <Component>Args, opts), and the Args class documents
    # every attribute, so a reader learns a component's interface without reading its body.
    problems = []
    for m in modules("components"):
        classes = {c.name: c for c in ast.parse(m.read_text()).body if isinstance(c, ast.ClassDef)}
        for cls in classes.values():
            if not any(ast.unparse(b) == "pulumi.ComponentResource" for b in cls.bases):
                continue
            init = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
            params = [(a.arg, ast.unparse(a.annotation) if a.annotation else None) for a in init.args.args]
            if params != [("self", None), ("name", "str"), ("args", f"{cls.name}Args"),
                          ("opts", "Optional[pulumi.ResourceOptions]")]:
                problems.append(f"{m.name}: {cls.name}.__init__{params}")
                continue
            args = classes.get(f"{cls.name}Args")
            if args is None or not any("dataclass(frozen=True)" in ast.unparse(d) for d in args.decorator_list):
                problems.append(f"{m.name}: no frozen dataclass {cls.name}Args")
                continue
            body = args.body
            for i, node in enumerate(body):
                if isinstance(node, ast.AnnAssign):
                    doc = body[i + 1] if i + 1 < len(body) else None
                    if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                            and isinstance(doc.value.value, str)):
                        problems.append(f"{m.name}: {args.name}.{ast.unparse(node.target)} has no docstring")
    assert problems == []


def readme_layout_paths() -> list[str]:
    """The paths in the layout table, docs/layout.md (linked from the README)."""
    return re.findall(r"^\| `([^`]+)`", (ROOT / "docs" / "layout.md").read_text(), re.M)


def test_readme_layout_table_names_paths_that_exist():
    missing = [p for p in readme_layout_paths() if not (ROOT / p.rstrip("/")).exists()]
    assert missing == []


@pytest.mark.parametrize("package", ["components", "sitespec", "ops"])
def test_readme_layout_table_covers_every_module(package):
    listed = set(readme_layout_paths())
    if f"{package}/" in listed and package == "ops":
        return  # the ops row names every command
    unlisted = [
        str(m.relative_to(ROOT)) for m in modules(package)
        if not m.name.startswith("_") and str(m.relative_to(ROOT)) not in listed
    ]
    assert unlisted == []


def test_readme_names_every_operator_command():
    text = (ROOT / "README.md").read_text()
    for m in modules("ops"):
        if not m.name.startswith("_"):
            assert f"ops.{m.stem}" in text, m.stem


# --- the tests' own house ----------------------------------------------------------------------

PROJECT_CODE = ("__main__.py", "components", "sitespec", "ops", "policy", "bench", "tests")


def project_modules(*tops: str) -> list[Path]:
    """The project's own Python files under `tops` (virtualenvs left out)."""
    found = []
    for top in tops:
        path = ROOT / top
        found += [path] if path.is_file() else [m for m in path.rglob("*.py") if "venv" not in m.relative_to(ROOT).parts]
    return sorted(found)


def sys_path_edits(tree: ast.AST) -> list[int]:
    """Lines that change sys.path: sys.path.insert/append/extend(...), sys.path[...] = ..., sys.path += ..."""
    def is_sys_path(node) -> bool:
        node = node.value if isinstance(node, ast.Subscript) else node
        return (isinstance(node, ast.Attribute) and node.attr == "path"
                and isinstance(node.value, ast.Name) and node.value.id == "sys")

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and is_sys_path(node.func.value):
            if node.func.attr in ("insert", "append", "extend"):
                lines.append(node.lineno)
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(is_sys_path(t) for t in targets):
                lines.append(node.lineno)
    return lines


def test_no_test_file_edits_sys_path():
    # pytest.ini's `pythonpath` puts the project root and tests/ on the path, and pytest the folder
    # of each test module: a path edited by hand is a module found by accident.
    edits = [f"{m.relative_to(ROOT)}:{line}" for m in project_modules("tests") for line in sys_path_edits(ast.parse(m.read_text()))]
    assert edits == []


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, node.module)] if node.module else [(node.lineno, a.name) for a in node.names]
    return found


def test_no_test_file_imports_a_test_module_or_a_conftest():
    # What tests share lives in helper modules (tests/daemon.py, engine.py, site_fixtures.py, the
    # harnesses): a test module imported elsewhere drags its tests along, and `conftest` names
    # whichever of the three conftest.py files pytest loaded last.
    wrong = [
        f"{m.relative_to(ROOT)}:{line}: {name}"
        for m in project_modules("tests")
        for line, name in imported_modules(ast.parse(m.read_text()))
        if any(part.startswith("test_") or part == "conftest" for part in name.split("."))
    ]
    assert wrong == []


def test_each_class_has_a_name_of_its_own():
    # So that a search for `class Site` finds one definition, in the product or in the tests.
    where: dict[str, list[str]] = {}
    for m in project_modules(*PROJECT_CODE):
        for node in ast.walk(ast.parse(m.read_text())):
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(f"{m.relative_to(ROOT)}:{node.lineno}")
    shared = {name: places for name, places in where.items() if len(places) > 1}
    assert shared == {}
