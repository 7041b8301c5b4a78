"""The operator's off-site commands on a real restic repository (a local one: fast; the e2e tests
use the rest-server): prune keeps what the retention says and proves what it removed, check and
the drill's records turn ops.verify red, the rollout's gate refuses a stale site by name, and
ops.recover refuses bad input with one line before it touches anything.

Marked e2e (the Docker-host family): restic comes from the pinned toolchain (scripts/pulumi-toolchain),
which a fresh machine builds only beside the fast suite."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from ops import _offsite, offsite, recover
from ops._checks import FAIL, PASS, WARN
from ops._offsite import Credential, OffsiteAccess, Restic, compare_counts, read_manifest, row_counts

PASSWORD = "drill-repo-password-0001"
SITE = "st-marys"


pytestmark = pytest.mark.e2e
_RESTIC: list[str] = []


def restic_path() -> str:
    return _RESTIC[0]


@pytest.fixture
def repo(tmp_path, monkeypatch, pulumi_env):
    if not _RESTIC:
        found = shutil.which("restic", path=pulumi_env["PATH"])
        assert found, "the pinned toolchain has no restic: scripts/pulumi-toolchain builds it"
        _RESTIC.append(found)
    monkeypatch.setenv("O3_RESTIC", restic_path())
    path = tmp_path / "repo"
    subprocess.run([restic_path(), "-r", str(path), "init"], env={**os.environ, "RESTIC_PASSWORD": PASSWORD},
                   check=True, capture_output=True)
    return path


def backup(repo: Path, *tags: str, host: str = SITE, hours_ago: float = 0, data: bytes = b"x",
           name: str = "o3-dump.sql") -> None:
    when = (dt.datetime.now() - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%d %H:%M:%S")
    args = ["backup", "--host", host, "--time", when, "--stdin", "--stdin-filename", name]
    for t in ("o3", *tags):
        args += ["--tag", t]
    subprocess.run([restic_path(), "-r", str(repo), *args], input=data, check=True, capture_output=True,
                   env={**os.environ, "RESTIC_PASSWORD": PASSWORD})


def site(repo: Path, password: str = PASSWORD, rpo: float = 26, **retention: int) -> OffsiteAccess:
    return OffsiteAccess(SITE, Credential(str(repo), password), rpo_hours=rpo,
                   retention={k.replace("_", "-"): v for k, v in retention.items()})


def use(monkeypatch, module, off: OffsiteAccess, cfg=None) -> None:
    cfg = cfg or SimpleNamespace(platform="docker", site=SimpleNamespace(name=SITE), docker_host="unix:///nonexistent")
    monkeypatch.setattr(module, "load", lambda *a, **k: (cfg, off))


def test_prune_keeps_what_the_retention_says_for_each_kind_apart(repo, monkeypatch, capsys):
    for days in (3, 2, 1, 0):
        backup(repo, "dump", "nightly", hours_ago=24 * days + 1, data=f"dump {days}".encode())
        backup(repo, "storage", hours_ago=24 * days + 1, data=f"storage {days}".encode(), name="files")
    backup(repo, "dump", "nightly", host="other-site", hours_ago=100)
    use(monkeypatch, offsite, site(repo, keep_daily=2))
    assert offsite.main(["prune", "--stack", SITE]) == 0
    assert "forgot 4" in capsys.readouterr().out
    with Restic(Credential(str(repo), PASSWORD), SITE) as r:
        assert len(r.snapshots("dump")) == 2 and len(r.snapshots("storage")) == 2
        assert len(r.snapshots(host="other-site")) == 1, "another site's snapshots are not this prune's"


def test_check_records_its_result_and_a_damaged_pack_turns_verify_red(repo, monkeypatch, capsys):
    backup(repo, "dump", "nightly", data=os.urandom(200_000))
    backup(repo, "storage", data=os.urandom(200_000), name="files")
    off = site(repo)
    use(monkeypatch, offsite, off)
    assert offsite.main(["check", "--stack", SITE, "--subset", "100%"]) == 0
    checks = {c.name: c for c in _offsite.offsite_checks(off, {"ok": True, "at": "now", "snapshot": "abc"})}
    assert checks["off-site"].status == PASS and checks["off-site check"].status == PASS
    assert checks["off-site drill"].status == WARN and checks["off-site run"].status == PASS

    pack = max((p for p in (repo / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    raw = bytearray(pack.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(raw))
    capsys.readouterr()
    assert offsite.main(["check", "--stack", SITE, "--subset", "100%"]) == 1
    assert "FAILED" in capsys.readouterr().out
    red = {c.name: c for c in _offsite.offsite_checks(off)}["off-site check"]
    assert red.status == FAIL and "the last check failed" in red.measured


def test_a_failed_site_run_and_a_stale_snapshot_are_red_with_the_age_and_the_key(repo):
    backup(repo, "dump", "nightly", hours_ago=30)
    backup(repo, "storage", hours_ago=2, name="files")
    checks = {c.name: c for c in _offsite.offsite_checks(site(repo), {"ok": False, "at": "t", "message": "db down"})}
    assert checks["off-site run"].status == FAIL and "db down" in checks["off-site run"].measured
    stale = checks["off-site"]
    assert stale.status == FAIL and "dump" in stale.measured and "30." in stale.measured
    assert "o3:offsite.rpoHours 26" in stale.measured


def test_the_rollout_gate_refuses_a_stale_site_by_name_and_passes_a_fresh_one(repo, monkeypatch, capsys):
    backup(repo, "dump", "nightly", hours_ago=40)
    backup(repo, "storage", hours_ago=40, name="files")
    use(monkeypatch, offsite, site(repo))
    assert offsite.main(["gate", "--stack", SITE]) == 1
    err = capsys.readouterr().err
    assert f"refused: site {SITE}" in err and "older than o3:offsite.rpoHours 26" in err
    backup(repo, "dump", "nightly")
    backup(repo, "storage", name="files")
    assert offsite.main(["gate", "--stack", SITE]) == 0
    use(monkeypatch, offsite, None)
    assert offsite.main(["gate", "--stack", SITE]) == 0
    assert "no off-site copy" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["password", "snapshot", "other site", "unreachable", "empty"])
def test_recover_refuses_bad_input_in_one_line_before_touching_anything(repo, monkeypatch, capsys, case):
    backup(repo, "dump", "nightly", host="riverside" if case == "other site" else SITE)
    backup(repo, "storage", name="files", host="riverside" if case == "other site" else SITE)
    off = site(repo)
    if case == "password":
        off = site(repo, password="not-the-password-0001")
    elif case == "unreachable":
        off = OffsiteAccess(SITE, Credential("rest:https://127.0.0.1:9/st-marys", PASSWORD))
    elif case == "empty":
        shutil.rmtree(repo)
    use(monkeypatch, recover, off)
    touched = []
    monkeypatch.setattr(recover, "connect", lambda *a, **k: touched.append("docker"))
    monkeypatch.setattr(recover, "pulumi", lambda *a, **k: touched.append("pulumi"))
    args = ["--stack", SITE] + (["--snapshot", "deadbeef"] if case == "snapshot" else [])
    assert recover.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert touched == []
    want = {"password": "o3:offsitePassword does not open", "snapshot": "--snapshot deadbeef: no snapshot",
            "other site": "belongs to another site (riverside)", "unreachable": "cannot reach the repository",
            "empty": "there is no restic repository"}[case]
    assert want in err.replace("(o3:offsitePassword) ", "o3:offsitePassword "), err


def test_the_drill_finds_a_missing_file_a_changed_one_and_rows_that_differ(tmp_path):
    from ops.drill import check_files

    (tmp_path / "dicom").mkdir()
    (tmp_path / "dicom" / "a.dcm").write_bytes(b"a")
    (tmp_path / "dicom" / "b.dcm").write_bytes(b"changed")
    manifest = read_manifest("".join(f"{hashlib.sha256(c).hexdigest()}  dicom/{n}\n"
                                     for n, c in (("a.dcm", b"a"), ("b.dcm", b"b"), ("c.dcm", b"c"))))
    assert check_files(tmp_path, manifest) == ["checksum differs: dicom/b.dcm", "missing: dicom/c.dcm"]
    assert compare_counts({"p.a": 3, "p.b": 1}, {"p.a": 2, "p.c": 0}) == [
        "p.a: 2 rows, the dump recorded 3", "table missing: p.b", "table not in the dump's record: p.c"]
    dump = tmp_path / "d.sql"
    dump.write_text('-- Dump completed\n-- o3-row-counts {"public_pacs.t": 4}\n')
    assert row_counts(dump) == {"public_pacs.t": 4}
    dump.write_text("-- Dump completed\n")
    with pytest.raises(_offsite.OpsError, match="o3-row-counts"):
        row_counts(dump)
