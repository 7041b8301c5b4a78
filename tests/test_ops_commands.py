"""Every operator command fails gracefully: bad input names the argument or key and the fix,
exits 2, writes nothing and never prints a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FLEET = Path(__file__).resolve().parent / "fleet"
COMMANDS = sorted(p.stem for p in (ROOT / "ops").glob("*.py") if not p.name.startswith("_"))
# The least each command needs besides --dir.
MINIMAL_ARGS = {
    "backup": ["--stack", "st-marys"],
    "restore": ["--stack", "st-marys", "--file", "o3-nightly-x.sql.gz", "--yes"],
    "bump": ["--component", "pacs", "--version", "2.9.0", "--ring", "canary"],
    "preflight": ["--stack", "st-marys"],
    "sizing": ["--stack", "st-marys"],
    "fleet": [],
    "stacks": [],
    "verify": ["--stack", "st-marys"],
    "schema": [],
    "offsite": ["check", "--stack", "st-marys"],
    "drill": ["--stack", "st-marys"],
    "recover": ["--stack", "st-marys", "--yes"],
    "fence": ["node2", "--stack", "st-marys", "--yes"],
}


def ops(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir()) if p.is_file()}


def assert_graceful(out: subprocess.CompletedProcess, code: int, *words: str) -> str:
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text
    assert out.returncode == code, text
    for w in words:
        assert w in text, text
    return text


def test_every_command_is_covered_here():
    assert set(COMMANDS) == set(MINIMAL_ARGS)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_project_folder_is_named(command, tmp_path):
    assert_graceful(ops(f"ops.{command}", *MINIMAL_ARGS[command], "--dir", str(tmp_path / "nope")), 2,
             "--dir", "is not a folder")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_without_pulumi_yaml_is_named(command, tmp_path):
    assert_graceful(ops(f"ops.{command}", *MINIMAL_ARGS[command], "--dir", str(tmp_path)), 2, "--dir", "has no Pulumi.yaml")


# --- rings -----------------------------------------------------------------------------------

def test_a_misspelt_ring_is_named_by_stacks_with_its_file(fleet_dir):
    p = fleet_dir / "Pulumi.north-clinic.yaml"
    p.write_text(p.read_text().replace("ring: broad", "ring: Broad"))
    for args in (["--by-ring"], [], ["--ring", "broad"]):
        assert_graceful(ops("ops.stacks", *args, "--dir", str(fleet_dir)), 2,
                 "Pulumi.north-clinic.yaml: o3:site.ring is 'Broad'", "canary, early, broad")


def test_a_misspelt_ring_stops_a_ring_bump_and_points_at_it(fleet_dir):
    p = fleet_dir / "Pulumi.north-clinic.yaml"
    p.write_text(p.read_text().replace("ring: broad", "ring: Broad"))
    before = snapshot(fleet_dir)
    text = assert_graceful(ops("ops.bump", "--component", "pacs", "--version", "2.9.0", "--ring", "broad", "--dir", str(fleet_dir)), 2,
                    "Pulumi.north-clinic.yaml: o3:site.ring is 'Broad'")
    assert "no site is in ring" not in text
    assert snapshot(fleet_dir) == before


# --- bump: downgrades and what the policy pack would refuse ----------------------------------

def bump(fleet_dir, *args):
    return ops("ops.bump", *args, "--dir", str(fleet_dir))


def test_a_downgrade_is_refused_unless_asked_for(fleet_dir):
    before = snapshot(fleet_dir)
    text = assert_graceful(bump(fleet_dir, "--component", "pacs", "--version", "2.7.0", "--site", "st-marys"), 2,
                    "2.8.1 -> 2.7.0 is a downgrade", "--allow-downgrade", "revert")
    assert "database" not in text
    assert snapshot(fleet_dir) == before
    assert_graceful(bump(fleet_dir, "--component", "pacs", "--version", "2.7.0", "--site", "st-marys", "--allow-downgrade"), 0)
    assert "pacs-cloud:2.7.0" in (fleet_dir / "Pulumi.st-marys.yaml").read_text()


def test_a_database_downgrade_says_what_it_means(fleet_dir):
    before = snapshot(fleet_dir)
    assert_graceful(bump(fleet_dir, "--component", "db", "--version", "8.0.30", "--ring", "canary"), 2,
             "8.0.34 -> 8.0.30 is a downgrade", "data files", "restore the dump taken before the upgrade")
    assert snapshot(fleet_dir) == before


def test_a_version_that_cannot_be_ordered_needs_the_flag(fleet_dir):
    digest = "sha256:" + "a" * 64
    assert_graceful(bump(fleet_dir, "--component", "view", "--version", digest, "--site", "riverside"), 2,
             "cannot tell whether", "--allow-downgrade")
    assert_graceful(bump(fleet_dir, "--component", "view", "--version", digest, "--site", "riverside", "--allow-downgrade"), 0)
    assert f"view@{digest}" in (fleet_dir / "Pulumi.riverside.yaml").read_text()


@pytest.mark.parametrize("version", ["8.4.2", "9.1.0", "5.6.51"])
def test_a_mysql_the_policy_pack_refuses_is_refused_by_the_bump(fleet_dir, version):
    before = snapshot(fleet_dir)
    assert_graceful(bump(fleet_dir, "--component", "db", "--version", version, "--site", "riverside"), 2,
             "is not MySQL 8.0", "o3-database-mysql")
    assert snapshot(fleet_dir) == before


def test_an_upgrade_still_goes_through(fleet_dir):
    assert_graceful(bump(fleet_dir, "--component", "db", "--version", "8.0.40", "--ring", "canary"), 0, "bumped")
    assert "mysql:8.0.40" in (fleet_dir / "Pulumi.st-marys.yaml").read_text()


# --- preflight ---------------------------------------------------------------------------------

def test_preflight_names_a_missing_key_file(fleet_dir, tmp_path):
    assert_graceful(ops("ops.preflight", "--stack", "st-marys", "--dir", str(fleet_dir), "--registry-key-file",
                 str(tmp_path / "missing.json")), 2, "--registry-key-file", "is not a file that exists")


def test_preflight_refuses_a_key_file_that_is_not_a_key(fleet_dir, tmp_path):
    key = tmp_path / "key.txt"
    key.write_text("not json")
    assert_graceful(ops("ops.preflight", "--stack", "st-marys", "--dir", str(fleet_dir), "--registry-key-file", str(key)), 2,
             "is not a registry JSON key")


def unreachable_stacks(fleet_dir: Path, monkeypatch) -> None:
    """Pulumi.gone.yaml: a Docker site whose daemon is not there; Pulumi.kgone.yaml: a Kubernetes
    site without a kubeconfig."""
    text = (fleet_dir / "Pulumi.st-marys.yaml").read_text()
    (fleet_dir / "Pulumi.gone.yaml").write_text(
        text.replace("ssh://o3admin@pacs01.st-marys.example", f"unix://{fleet_dir}/no-docker.sock"))
    (fleet_dir / "Pulumi.kgone.yaml").write_text("""config:
  o3:platform: kubernetes
  o3:site: {name: kgone, timezone: UTC, concurrentUsers: 10, examsPerDay: 100}
  o3:images: {pacs: "registry.test/o3/pacs-cloud:1.0.0", view: "registry.test/o3/view:1.0.0"}
  o3:kubernetes: {storageClass: nas-rwx, storageGb: 100}
""")
    monkeypatch.setenv("KUBECONFIG", str(fleet_dir / "no-kubeconfig"))


@pytest.mark.parametrize("stack, first, words", [("gone", "daemon", "cannot reach the Docker daemon"),
                                                  ("kgone", "cluster", "no kubeconfig at")])
def test_preflight_on_an_unreachable_platform_is_one_failed_check_in_its_json(fleet_dir, monkeypatch, stack, first, words):
    unreachable_stacks(fleet_dir, monkeypatch)
    out = ops("ops.preflight", "--stack", stack, "--dir", str(fleet_dir), "--json")
    assert_graceful(out, 1)
    report = json.loads(out.stdout)
    assert set(report) == {"site", "stack", "ok", "checks"} and report["ok"] is False and report["stack"] == stack
    (check,) = report["checks"]
    assert set(check) == {"name", "status", "measured", "fix"}
    assert check["name"] == first and check["status"] == "fail" and words in check["measured"]
    table = assert_graceful(ops("ops.preflight", "--stack", stack, "--dir", str(fleet_dir)), 1, "FAIL - fix the above")
    assert table.splitlines()[1].split()[:2] == ["FAIL", first]


@pytest.mark.parametrize("stack, words", [("gone", "cannot reach the Docker daemon of site st-marys"),
                                          ("kgone", "no kubeconfig at")])
def test_verify_on_an_unreachable_platform_is_bad_input_not_a_report(fleet_dir, monkeypatch, stack, words):
    unreachable_stacks(fleet_dir, monkeypatch)
    out = ops("ops.verify", "--stack", stack, "--dir", str(fleet_dir), "--json")
    assert_graceful(out, 2, "verify: ", words)
    assert out.stdout == ""


# --- sizing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--users", "3", "--exams", "-3"], "--exams"),
    (["--users", "0"], "--users"),
    (["--users", "many"], "'many' is not a whole number"),
    (["--stack", "st-marys", "--users", "5"], "--users cannot be combined with --stack"),
    (["--stack", "st-marys", "--exams", "10", "--pathology"], "--pathology, --exams cannot be combined with --stack"),
])
def test_sizing_refuses_what_it_would_otherwise_ignore_or_misread(args, words):
    assert_graceful(ops("ops.sizing", *args), 2, words)


def test_sizing_rounds_pathology_cores_up_and_says_so():
    text = assert_graceful(ops("ops.sizing", "--users", "35", "--pathology"), 0, "52.5, rounded up to whole cores")
    assert " 53 " in text and "52.5 " not in text.split("=")[0]


# --- fleet -------------------------------------------------------------------------------------

def test_fleet_shows_the_stack_name(fleet_dir):
    p = fleet_dir / "Pulumi.north-clinic.yaml"
    p.write_text(p.read_text().replace("name: north-clinic", "name: nord"))
    rows = {r["stack"]: r for r in json.loads(ops("ops.fleet", "--json", "--dir", str(fleet_dir)).stdout)}
    assert rows["north-clinic"]["site"] == "nord"
    table = ops("ops.fleet", "--dir", str(fleet_dir)).stdout
    assert table.splitlines()[0].split()[:2] == ["stack", "site"]
    assert any(line.split()[:2] == ["north-clinic", "nord"] for line in table.splitlines())


def test_fleet_flags_two_stacks_on_one_docker_host(fleet_dir):
    text = (fleet_dir / "Pulumi.st-marys.yaml").read_text().replace("name: st-marys", "name: st-marys-2")
    # Another user on the same host and port is still the same daemon.
    (fleet_dir / "Pulumi.st-marys-2.yaml").write_text(
        text.replace("ssh://o3admin@pacs01.st-marys.example", "ssh://ops@PACS01.st-marys.example:22"))
    out = ops("ops.fleet", "--json", "--dir", str(fleet_dir))
    assert out.returncode == 1
    rows = {r["stack"]: r for r in json.loads(out.stdout)}
    assert rows["st-marys"]["sharesHostWith"] == ["st-marys-2"] and rows["st-marys-2"]["sharesHostWith"] == ["st-marys"]
    assert "sharesHostWith" not in rows["riverside"]
    text = assert_graceful(ops("ops.fleet", "--dir", str(fleet_dir)), 1, "SAME DOCKER HOST as st-marys-2", "its own docker:host")


def test_fleet_of_an_empty_project_is_an_error(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    assert_graceful(ops("ops.fleet", "--dir", str(tmp_path)), 2, "no Pulumi.<site>.yaml stack files")


# --- the safety net ----------------------------------------------------------------------------

def test_an_unexpected_error_is_one_line_not_a_traceback(fleet_dir, monkeypatch, capsys):
    from ops import fleet

    def boom(*_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fleet, "row", boom)
    assert fleet.main(["--dir", str(fleet_dir)]) == 3
    err = capsys.readouterr().err
    assert "fleet: unexpected error: RuntimeError: disk on fire (set O3_DEBUG=1 for the details)" in err
    assert "Traceback" not in err
