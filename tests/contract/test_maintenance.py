"""The maintenance container on a real daemon: nightly dumps at their minute in site time,
retention, log pruning, and the ops.backup / ops.restore commands that use it."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

import pytest

from contract_harness import not_due_schedule, stack_project
from daemon import mysql
from site_fixtures import PASSWORD

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
ZONE = zoneinfo.ZoneInfo("Europe/Rome")  # site_fixtures.BASE's timezone
DAY = 86400


def backups(site) -> Path:
    return Path(site.storage, "backups")


KEEP = object()


def restart_maintenance(site, schedule: str, tick: int = 1, day=KEEP, prepare=None):
    """A new o3-maintenance from the program's spec, with `schedule` (and a fast tick for tests).
    `day`: what the last-run marker says when it starts (None: no marker); `prepare()`: files to
    lay out for it. Both only once the old loop is gone: a running loop whose marker is not today
    dumps at once once its time has passed, and one still pruning would take the new files."""
    from engine import evaluate

    old = site.containers.get("o3-maintenance")
    if old is not None:
        old.remove(force=True)
    if prepare is not None:
        prepare()
    if day is None:
        (backups(site) / ".o3-nightly-day").unlink(missing_ok=True)
    elif day is not KEEP:
        (backups(site) / ".o3-nightly-day").write_text(day + "\n")
    cfg = dict(site.config, **{"o3:backup": {"schedule": schedule}})
    spec = evaluate(cfg, {"o3:dbPassword"}).container("o3-maintenance")
    envs = [e for e in spec.plain("envs")] + [f"O3_TICK_SECONDS={tick}"]
    c = site.applier.container(spec, override={"envs": envs}).container
    site.containers["o3-maintenance"] = c
    return c


def site_time(delta_minutes: int = 0) -> str:
    return (dt.datetime.now(ZONE) + dt.timedelta(minutes=delta_minutes)).strftime("%H:%M")


def assert_eventually(predicate, seconds: float, what: str, site=None):
    """What `predicate` returns once it is true; fails when it is not within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {seconds} s" + (explain(site) if site else ""))


def explain(site) -> str:
    """What o3-maintenance said and left behind, for a failure message."""
    b = backups(site)
    c = site.containers["o3-maintenance"]
    c.reload()
    files = sorted(p.name for p in b.iterdir())
    day = (b / ".o3-nightly-day").read_text().strip() if (b / ".o3-nightly-day").exists() else None
    return (f"\nsite time {site_day()} {site_time()}, day file {day!r}, container {c.status}, files {files}"
            f"\nlogs:\n{c.logs().decode()[-3000:]}")


def site_day(delta_days: int = 0) -> str:
    return (dt.datetime.now(ZONE) + dt.timedelta(days=delta_days)).date().isoformat()


def quiet_restart(site, prepare=None):
    """Restart o3-maintenance with today's nightly already done: only start-up pruning runs."""
    return restart_maintenance(site, "02:30", day=site_day(), prepare=prepare)


def nightly_files(site) -> list[str]:
    return sorted(p.name for p in backups(site).glob("o3-nightly-*.sql.gz"))


def status(site) -> dict:
    return json.loads((backups(site) / ".o3-nightly-status").read_text())


def age(path: Path, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(path, (t, t))


# --- logs ------------------------------------------------------------------------------------

def test_every_container_has_docker_log_limits(site):
    for name, c in site.containers.items():
        c.reload()
        assert c.attrs["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "50m", "max-file": "5"}}, name


# --- the nightly dump -----------------------------------------------------------------------------

def test_docker_stop_ends_the_loop_cleanly_instead_of_killing_it(site):
    # Seen in the real-engine benchmark: as PID 1 the loop ignored SIGTERM, so each replacement
    # (every db bump) waited out the 10 s grace and then killed it (exit 137).
    c = restart_maintenance(site, not_due_schedule(), tick=15)
    assert_eventually(lambda: "started: nightly dump" in c.logs().decode(), 30, "the loop to start")
    c.stop(timeout=10)
    c.reload()
    assert c.attrs["State"]["ExitCode"] == 0 and "stopping" in c.logs().decode()
    restart_maintenance(site, not_due_schedule())


def test_the_nightly_dump_runs_at_its_minute_in_site_time(site):
    before = nightly_files(site)
    schedule = site_time(+1)
    c = restart_maintenance(site, schedule, day=None)
    time.sleep(3)
    assert nightly_files(site) == before, "nothing may run before the scheduled minute"
    new = assert_eventually(lambda: sorted(set(nightly_files(site)) - set(before)), 75, "the scheduled nightly dump")
    assert site_time() >= schedule or site_time() < "00:02"  # ran at (or just after) its minute, site time
    assert len(new) == 1
    st = status(site)
    assert st["ok"] is True and st["file"] == new[0]
    text = gzip.open(backups(site) / new[0], "rt").read()
    assert text.startswith("-- o3-site: test-site\n") and "CREATE DATABASE" in text and text.rstrip().splitlines()[-1].startswith("-- Dump completed")
    assert "nightly dump" in c.logs().decode()
    assert not list(backups(site).glob("*.partial*"))


def test_a_host_that_was_down_at_the_scheduled_time_catches_up(site):
    before = nightly_files(site)
    restart_maintenance(site, site_time(-5) if site_time(-5) < site_time() else "00:00", day=site_day(-1))
    assert_eventually(lambda: set(nightly_files(site)) - set(before), 30, "the catch-up dump", site)


def test_a_failed_nightly_dump_is_reported_and_leaves_no_file(site):
    db = site.containers["db"]
    db.stop(timeout=30)
    try:
        before = nightly_files(site)
        restart_maintenance(site, site_time(+1), day=None)
        assert_eventually(lambda: (backups(site) / ".o3-nightly-status").exists() and status(site)["ok"] is False, 90,
                 "the failure report")
        st = status(site)
        assert "nightly dump failed" in st["message"] and st["file"] == ""
        assert nightly_files(site) == before and not list(backups(site).glob("*.partial*"))
        assert "ERROR: nightly dump failed" in site.containers["o3-maintenance"].logs().decode()
    finally:
        db.start()
        site.applier.wait_healthy(db, 120)


def test_retention_removes_old_nightly_dumps_and_cut_off_ones_and_nothing_else(site):
    b = backups(site)
    files = {"o3-nightly-20200101T023000Z.sql.gz": 20, "o3-nightly-recent.sql.gz": 1,
             "o3-backup-20200101T000000Z_from_x_to_y.sql.gz": 60, "o3-manual-20200101T000000Z.sql.gz": 60,
             "notes.txt": 60, "o3-manual-20200101T000000Z.partial.Ab12Cd": 2, "o3-manual-now.partial.Ef34Gh": 0.01}
    gone = {"o3-nightly-20200101T023000Z.sql.gz", "o3-manual-20200101T000000Z.partial.Ab12Cd"}

    def prepare():
        for name, days in files.items():
            (b / name).write_bytes(b"x")
            age(b / name, days)

    quiet_restart(site, prepare)  # pruning runs at start
    assert_eventually(lambda: not any((b / n).exists() for n in gone), 20, "pruning", site)
    kept = {n for n in files if (b / n).exists()}
    assert kept == set(files) - gone  # retainDays 14 by default; an unfinished dump after a day
    for n in kept:
        (b / n).unlink()


def test_old_log_files_go_recent_ones_and_every_data_folder_stay(site):
    s = Path(site.storage, "compose")
    old = [s / "pacs/log/server.2020-01-01.log", s / "view/log/viewer.2020-01-01.log"]
    recent = [s / "pacs/log/server.log", s / "view/log/viewer.log"]
    data = [s / "storage/study-2020.dcm", s / "pacs/shared-persist/old.cfg", s / "view/shared-persist/old.cfg",
            Path(site.storage, "backups/o3-backup-keep.sql.gz")]
    def prepare():
        for f in old + recent + data:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("x")
        for f in old + data:
            age(f, 40)  # past o3:logs.retainDays (30)

    c = quiet_restart(site, prepare)
    # The log line comes just after the file goes (find -delete, then the line): wait for both.
    assert_eventually(lambda: not any(f.exists() for f in old)
             and "removed log file /logs/pacs/server.2020-01-01.log" in c.logs().decode(), 20, "log pruning", site)
    assert all(f.exists() for f in recent + data)


# --- ops.backup and ops.restore ------------------------------------------------------------------

@pytest.fixture
def project(site, tmp_path):
    return stack_project(site.config, "contract", tmp_path)


def ops(project, command, *args, input=None):
    return subprocess.run([sys.executable, "-m", f"ops.{command}", "--stack", "contract", "--dir", str(project), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, input=input)


def test_ops_backup_takes_a_dump_now(site, project):
    out = ops(project, "backup")
    assert out.returncode == 0, out.stderr
    name = next(w for w in out.stdout.split() if "o3-manual-" in w).rsplit("/", 1)[-1]
    assert (backups(site) / name).exists() and "ops.restore --stack contract --file" in out.stdout
    assert gzip.open(backups(site) / name, "rt").readline() == "-- o3-site: test-site\n"
    assert PASSWORD not in out.stdout + out.stderr


def test_ops_restore_brings_back_a_row_deleted_after_the_dump(site, project):
    db = site.containers["db"]
    mysql(db, "CREATE TABLE IF NOT EXISTS public_pacs.restore_e2e (v INT); DELETE FROM public_pacs.restore_e2e;"
              "INSERT INTO public_pacs.restore_e2e VALUES (7)")
    out = ops(project, "backup")
    name = next(w for w in out.stdout.split() if "o3-manual-" in w).rsplit("/", 1)[-1]
    mysql(db, "DELETE FROM public_pacs.restore_e2e")
    out = ops(project, "restore", "--file", name, "--yes")
    assert out.returncode == 0, out.stdout + out.stderr
    assert mysql(db, "SELECT v FROM public_pacs.restore_e2e").split() == ["7"]
    assert "stopped pacs, pacs-singleton, view" in out.stdout and "started pacs, pacs-singleton, view again" in out.stdout
    for app in ("pacs", "pacs-singleton", "view"):
        site.containers[app].reload()
        assert site.containers[app].status == "running"


def test_a_dump_never_replaces_one_from_the_same_second(site, project):
    # Seen in CI: a catch-up dump started in the second of the nightly one before it and took its
    # name. Dumps of the next few seconds already exist; the new one gets a name of its own.
    now = dt.datetime.now(dt.timezone.utc)
    taken = [backups(site) / f"o3-manual-{(now + dt.timedelta(seconds=s)):%Y%m%dT%H%M%SZ}.sql.gz" for s in range(30)]
    for f in taken:
        f.write_bytes(b"an earlier dump")
    try:
        out = ops(project, "backup")
        assert out.returncode == 0, out.stderr
        name = next(w for w in out.stdout.split() if "o3-manual-" in w).rsplit("/", 1)[-1]
        assert name.endswith("Z-2.sql.gz") and name[:-len("-2.sql.gz")] + ".sql.gz" in {f.name for f in taken}
        assert gzip.open(backups(site) / name, "rt").readline() == "-- o3-site: test-site\n"
        assert all(f.read_bytes() == b"an earlier dump" for f in taken)
        assert not list(backups(site).glob("*.partial*"))
    finally:
        for f in taken:
            f.unlink(missing_ok=True)


@pytest.mark.parametrize("damage, words", [
    ("corrupt", "is corrupt"),
    ("truncated", "is truncated"),
    ("other-site", "is not a dump of site test-site"),
    ("missing", "no file"),
])
def test_ops_restore_refuses_what_is_not_a_whole_dump_of_this_site(site, project, damage, words):
    db = site.containers["db"]
    mysql(db, "CREATE TABLE IF NOT EXISTS public_pacs.restore_guard (v INT); DELETE FROM public_pacs.restore_guard;"
              "INSERT INTO public_pacs.restore_guard VALUES (1)")
    good = backups(site) / next(w for w in ops(project, "backup").stdout.split() if "o3-manual-" in w).rsplit("/", 1)[-1]
    bad = backups(site) / f"o3-manual-{damage}.sql.gz"
    text = gzip.open(good).read()
    if damage == "corrupt":
        bad.write_bytes(good.read_bytes()[:-40] + b"garbage" * 6)
    elif damage == "truncated":
        bad.write_bytes(gzip.compress(text[: len(text) // 2]))
    elif damage == "other-site":
        bad.write_bytes(gzip.compress(text.replace(b"-- o3-site: test-site", b"-- o3-site: riverside", 1)))
    mysql(db, "INSERT INTO public_pacs.restore_guard VALUES (2)")
    out = ops(project, "restore", "--file", bad.name, "--yes")
    assert out.returncode == 1 and words in out.stderr and "Nothing was changed" in out.stderr, out.stderr
    assert sorted(mysql(db, "SELECT v FROM public_pacs.restore_guard").split()) == ["1", "2"]
    bad.unlink(missing_ok=True)


def test_ops_restore_needs_a_confirmation(site, project):
    name = next(w for w in ops(project, "backup").stdout.split() if "o3-manual-" in w).rsplit("/", 1)[-1]
    out = ops(project, "restore", "--file", name, input="")
    assert out.returncode == 2 and "--yes" in out.stderr
    out = ops(project, "restore", "--file", f"/elsewhere/{name}", "--yes")
    assert out.returncode == 2 and "give the file's name there" in out.stderr
