"""The folder layout is the architecture: these tests keep the arrows pointing one way and the
README's layout table true to the tree."""

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
    return sorted((ROOT / package).rglob("*.py"))


# package -> first-party packages it may import besides itself
ALLOWED = {
    "sitespec": set(),
    "components": {"sitespec"},
    "ops": {"sitespec"},
    "policy": {"sitespec"},
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_at_the_domain_only(package):
    wrong = {
        str(m.relative_to(ROOT)): sorted(imports_of(m) - ALLOWED[package] - {package})
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
    stdlib_only = {"sizing", "imageref", "facts", "guide"}
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
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Layout"):text.index("## Configure a new site")]
    return re.findall(r"^\| `([^`]+)`", table, re.M)


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
