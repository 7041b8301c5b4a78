"""The stack config has one source, sitespec/config.py's models: Pulumi.yaml's declarations and the
README's key table are generated from it, and these tests fail while either copy is out of date."""

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ops import schema
from sitespec.config import SiteConfig

ROOT = Path(__file__).resolve().parent.parent


def test_every_config_field_has_a_description():
    assert schema.undocumented() == [], "add a docstring under each of these fields in sitespec/config.py"


@pytest.mark.parametrize("name", sorted(schema.GENERATED))
def test_the_generated_copy_matches_the_models(name):
    diff = schema.stale(ROOT).get(name)
    assert diff is None, f"{name} is out of date with sitespec/config.py; run `{schema.WRITE}`:\n{diff}"


@pytest.mark.parametrize("name, edit", [
    ("Pulumi.yaml", lambda t: t.replace("type: object", "type: string", 1)),
    ("Pulumi.yaml", lambda t: t.replace("  network:\n", "  netwrk:\n", 1)),
    ("README.md", lambda t: t.replace("| `o3:backup.retain` | int ≥ 1 | `10` |", "| `o3:backup.retain` | int ≥ 1 | `7` |")),
    ("README.md", lambda t: t.replace("| `o3:tlsKey` |", "| `o3:tlskey` |")),
], ids=["yaml-type", "yaml-key", "readme-default", "readme-key"])
def test_a_copy_edited_by_hand_is_caught(name, edit):
    edited = edit((ROOT / name).read_text())
    assert edited != (ROOT / name).read_text(), "the edit must change the file, or this test proves nothing"
    diffs = schema.stale(ROOT, {name: edited})
    assert name in diffs and diffs[name].strip()


def test_pulumi_yaml_declares_every_o3_key_and_requires_exactly_the_required_ones():
    decl = YAML(typ="safe").load((ROOT / "Pulumi.yaml").read_text())["config"]
    fields = {f.alias or n: f for n, f in SiteConfig.model_fields.items()}
    o3 = {k: f for k, f in fields.items() if k not in schema.DOCKER_KEYS}
    assert set(decl) == set(o3)
    assert {k for k, d in decl.items() if "default" not in d} == {k for k, f in o3.items() if f.is_required()} \
        == {"site", "images"}  # and o3:host on docker: sitespec asks for it (Kubernetes refuses it)
    assert all(d["type"] in ("object", "string") and d["description"] for d in decl.values())


def test_readme_table_has_a_row_for_every_leaf_key():
    text = (ROOT / "README.md").read_text()
    assert all(f"| `{r.key}` |" in text for r in schema.rows())
    assert "| `o3:database.ulimits.nofileHard` |" in text and "| `docker:sshOpts` |" in text


def test_the_command_checks_and_writes(tmp_path, capsys):
    for name in schema.GENERATED:
        text = (ROOT / name).read_text()
        (tmp_path / name).parent.mkdir(exist_ok=True)  # docs/
        (tmp_path / name).write_text(text.replace("Extra variables for view.", "stale").replace("Fields: name, subnet.", "stale"))
    assert schema.main(["--dir", str(tmp_path)]) == 1
    assert schema.WRITE in capsys.readouterr().err
    assert schema.main(["--write", "--dir", str(tmp_path)]) == 0
    assert schema.main(["--dir", str(tmp_path)]) == 0
    assert all((tmp_path / n).read_text() == (ROOT / n).read_text() for n in schema.GENERATED)


def test_a_readme_without_the_table_markers_is_named(tmp_path, capsys):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / "README.md").write_text("# a README without the table\n")
    assert schema.main(["--dir", str(tmp_path)]) == 2
    assert "markers are missing" in capsys.readouterr().err
