"""What the program asks for works on a real Docker daemon: MariaDB and app stand-ins run from
the program's own container, network and command specs (see apply.py)."""

from __future__ import annotations

import json
import stat
import subprocess
import threading
import time
import urllib.request

import docker
import pytest

from apply import Applier, UnknownField
from daemon import mysql
from site_fixtures import PASSWORD

pytestmark = pytest.mark.engine


def get(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        return json.loads(r.read())


def wait_running(c, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        c.reload()
        logs = c.logs().decode(errors="replace")
        if "ready" in logs:
            return logs
        if "FAILED" in logs:
            raise AssertionError(f"{c.name}: {logs}")
        time.sleep(0.25)
    raise AssertionError(f"{c.name} not ready: {c.logs().decode(errors='replace')}")


def docker_shim(tmp_path) -> tuple[str, str]:
    """A `docker` first on PATH that records each call's argv, then runs the real one."""
    real = subprocess.run(["sh", "-c", "command -v docker"], capture_output=True, text=True).stdout.strip()
    log = tmp_path / "docker-argv.log"
    shim = tmp_path / "docker"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return str(tmp_path), str(log)


# --- database ---------------------------------------------------------------------------

def test_mysqld_accepts_the_guides_flags(site):
    db = site.containers["db"]
    modes = set(mysql(db, "SELECT @@GLOBAL.sql_mode").strip().split(","))
    assert modes == {"STRICT_TRANS_TABLES", "NO_ZERO_IN_DATE", "ERROR_FOR_DIVISION_BY_ZERO",
                     "NO_ENGINE_SUBSTITUTION", "ALLOW_INVALID_DATES"}
    # MariaDB reports MySQL's utf8 under its real name, utf8mb3.
    assert mysql(db, "SELECT @@character_set_server").strip() in ("utf8", "utf8mb3")
    assert mysql(db, "SELECT @@collation_server").strip() in ("utf8_general_ci", "utf8mb3_general_ci")


def test_db_runs_with_the_configured_ulimits_and_timezone(site):
    db = site.containers["db"]
    limits = {u["Name"]: (u["Soft"], u["Hard"]) for u in db.attrs["HostConfig"]["Ulimits"]}
    want = site.config["o3:database"]["ulimits"]
    assert limits["nofile"] == (want["nofileSoft"], want["nofileHard"])
    assert limits["nproc"] == (65535, 65535)
    assert "TZ=Europe/Rome" in db.attrs["Config"]["Env"]


# --- schema step --------------------------------------------------------------------------

def test_schema_step_created_both_schemas_and_is_harmless_twice(site):
    db = site.containers["db"]
    schemas = set(mysql(db, "SHOW DATABASES").split())
    assert {"public_pacs", "public_view"} <= schemas
    again = site.applier.command(site.command("-create"))
    assert again.returncode == 0, again.stderr
    assert set(mysql(db, "SHOW DATABASES").split()) == schemas


def test_schema_step_waits_for_a_database_that_is_still_starting(site, tmp_path):
    db = site.containers["db"]
    shim_dir, log = docker_shim(tmp_path)
    db.stop(timeout=30)
    # Started 3 s after the step begins: its first attempts meet a db that is not up yet, however
    # fast MariaDB starts on this host (a `start` just before the step raced it).
    starter = threading.Timer(3, db.start)
    starter.start()
    try:
        out = site.applier.command(site.command("-create"), path_prefix=shim_dir)
    finally:
        starter.join()
    assert out.returncode == 0, out.stderr
    attempts = [line for line in open(log).read().splitlines() if line.startswith("exec")]
    assert len(attempts) >= 2, f"expected retries while MySQL was starting, saw {attempts}"
    Applier.wait_healthy(db, 60)


def test_wrong_password_fails_clearly_without_printing_it(site):
    wrong = "Wrong-Password_987"
    out = site.applier.command(site.command("-create"), env_override={"MYSQL_PWD": wrong})
    assert out.returncode == 2
    assert "rejected the root password" in out.stderr and "o3:dbPassword" in out.stderr
    assert wrong not in out.stdout + out.stderr and PASSWORD not in out.stdout + out.stderr


def test_no_password_in_inspect_or_the_schema_steps_command_lines(site, tmp_path):
    inspect = json.dumps(site.containers["db"].attrs)
    assert PASSWORD not in json.dumps(site.containers["db"].attrs["Config"]["Healthcheck"])
    assert PASSWORD not in inspect, "docker inspect of db must not show the password"
    shim_dir, log = docker_shim(tmp_path)
    out = site.applier.command(site.command("-create"), path_prefix=shim_dir)
    assert out.returncode == 0, out.stderr
    argv = open(log).read()
    assert "exec -e MYSQL_PWD db mysql" in argv
    assert PASSWORD not in argv


# --- applications ---------------------------------------------------------------------------

# --- upgrade ------------------------------------------------------------------------------

# --- limits and the applier itself ---------------------------------------------------------

def test_asking_for_more_open_files_than_the_daemon_allows_fails(site, client, nofile_cap):
    if nofile_cap >= 46677:
        pytest.skip(f"this daemon grants nofile {nofile_cap}: the guide's 46677 fits")
    spec = next(r for r in site.resources if r.plain("name") == "db")
    override = {"name": "db-ulimit-probe", "ulimits": [{"name": "nofile", "soft": 26677, "hard": 46677}],
                "networksAdvanced": [], "volumes": [], "uploads": [], "wait": False}
    with pytest.raises(docker.errors.APIError) as err:
        site.applier.container(spec, override)
    client.containers.get("db-ulimit-probe").remove(force=True, v=True)
    assert "rlimit" in str(err.value)


def test_the_applier_refuses_fields_it_does_not_know(site):
    import copy

    spec = copy.deepcopy(next(r for r in site.resources if r.plain("name") == "view"))
    spec.inputs["privileged"] = True
    with pytest.raises(UnknownField):
        site.applier.container(spec)
