"""The stack config has one source, sitespec/config/models.py: Pulumi.yaml's declarations and the
key table in docs/config.md are generated from it, and these tests fail while either copy is out of date."""

import shutil
from pathlib import Path
from typing import Annotated, Optional

import pytest
from ruamel.yaml import YAML

from ops import schema
from sitespec.config import OnlyOn, SiteConfig, platforms

ROOT = Path(__file__).resolve().parent.parent


def test_every_config_field_has_a_description():
    assert schema.undocumented() == [], "add a docstring under each of these fields in sitespec/config/models.py"


@pytest.mark.parametrize("name", sorted(schema.GENERATED))
def test_the_generated_copy_matches_the_models(name):
    diff = schema.stale(ROOT).get(name)
    assert diff is None, f"{name} is out of date with sitespec/config/models.py; run `{schema.WRITE}`:\n{diff}"


@pytest.mark.parametrize("name, edit", [
    ("Pulumi.yaml", lambda t: t.replace("type: object", "type: string", 1)),
    ("Pulumi.yaml", lambda t: t.replace("  network:\n", "  netwrk:\n", 1)),
    ("docs/config.md", lambda t: t.replace("| `o3:backup.retain` | int ≥ 1 | `10` |", "| `o3:backup.retain` | int ≥ 1 | `7` |")),
    ("docs/config.md", lambda t: t.replace("| `o3:tlsKey` |", "| `o3:tlskey` |")),
], ids=["yaml-type", "yaml-key", "table-default", "table-key"])
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


def test_config_table_has_a_row_for_every_leaf_key():
    text = (ROOT / "docs" / "config.md").read_text()
    assert all(f"| `{r.key}` |" in text for r in schema.rows())
    assert "| `o3:database.ulimits.nofileHard` |" in text and "| `docker:sshOpts` |" in text


def test_the_command_checks_and_writes(tmp_path, capsys):
    for name in schema.GENERATED:
        text = (ROOT / name).read_text()
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text.replace("Extra variables for view.", "stale").replace("Fields: name, subnet.", "stale"))
    assert schema.main(["--dir", str(tmp_path)]) == 1
    assert schema.WRITE in capsys.readouterr().err
    assert schema.main(["--write", "--dir", str(tmp_path)]) == 0
    assert schema.main(["--dir", str(tmp_path)]) == 0
    assert all((tmp_path / n).read_text() == (ROOT / n).read_text() for n in schema.GENERATED)


def test_a_config_page_without_the_table_markers_is_named(tmp_path, capsys):
    for name in schema.GENERATED:  # every other generated file as it is, so only the markers are missing
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "docs" / "config.md").write_text("# a config page without the table\n")
    assert schema.main(["--dir", str(tmp_path)]) == 2
    assert "docs/config.md: the config table's markers are missing" in capsys.readouterr().err


class _WithANewDockerKey(SiteConfig):
    knob: Annotated[Optional[int], OnlyOn("docker")] = None
    """A new Docker-only key."""


def test_the_table_marks_each_platforms_keys_from_the_metadata():
    rows = {r.key: r for r in schema.rows(_WithANewDockerKey)}
    assert rows["o3:knob"].meaning == "Docker only. A new Docker-only key."
    for platform in ("docker", "kubernetes"):
        owned = [k for k, _, _ in platforms.owned(_WithANewDockerKey, platform)]
        mark = f"{platform.capitalize()} only. "
        wrong = [key for key, row in rows.items()
                 if row.meaning.startswith(mark) != any(key == k or key.startswith(k + ".") for k in owned)]
        assert wrong == [], f"marked {mark!r} or not against the models' OnlyOn metadata"
