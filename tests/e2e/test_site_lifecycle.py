"""One site's life with the real Pulumi CLI and providers on a real Docker daemon: a fresh
`up` with the policy pack, the nightly drift check (also across a daemon restart), upgrades of
each component with the pre-upgrade dump, a rollback, a restore, and `destroy` keeping the data.

The tests run in file order on one deployed site; each asserts on what Docker and MySQL hold.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker.errors
import pytest
import requests.exceptions

from daemon import clean, container_names, mysql
from e2e_harness import ROOT, SITE, SITE_CONTAINERS, VERSIONS, Project, by_type, http_json, stack_config
from site_fixtures import PASSWORD

pytestmark = pytest.mark.e2e
STACK = "e2e"
PROBE = "e2e_probe"


class LifecycleSite:
    def __init__(self, project: Project, storage: str, client, images):
        self.project = project
        self.storage = storage
        self.client = client
        self.images = images

    def container(self, name: str):
        return self.client.containers.get(name)

    def ids(self) -> dict[str, str]:
        return {n: self.container(n).id for n in SITE_CONTAINERS}

    def sql(self, statement: str) -> str:
        return mysql(self.container("db"), statement)

    def backups(self) -> list[str]:
        folder = Path(self.storage, "backups")
        return sorted(p.name for p in folder.glob("o3-backup-*.sql.gz")) if folder.is_dir() else []

    def bump(self, component: str, version: str, *extra: str) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [sys.executable, "-m", "ops.bump", "--component", component, "--version", version,
             "--site", STACK, "--dir", str(self.project.dir), *extra],
            cwd=ROOT, capture_output=True, text=True,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out


@pytest.fixture(scope="module")
def site(pulumi_env, docker_host, client, images, nofile_cap):
    clean(client)
    work = Path(tempfile.mkdtemp(prefix="o3-e2e-life-"))
    storage = str(work / "storage")
    project = Project(work, STACK, pulumi_env, secrets=[PASSWORD])
    project.init(stack_config(storage, images, docker_host, nofile_cap), {"o3:dbPassword": PASSWORD})
    start = time.monotonic()
    up = project.up()
    print(f"\n[figures] fresh `pulumi up` with the policy pack: {time.monotonic() - start:.1f} s")
    s = LifecycleSite(project, storage, client, images)
    s.first_up = up
    yield s
    project.destroy(check=False)
    project.remove()
    clean(client)
    shutil.rmtree(work, ignore_errors=True)


def test_fresh_site_runs_what_the_guide_builds(site):
    db = site.container("db")
    assert db.attrs["State"]["Health"]["Status"] == "healthy"
    assert set(site.sql("SHOW DATABASES").split()) >= {"public_pacs", "public_view"}
    for name in SITE_CONTAINERS:
        c = site.container(name)
        assert c.status == "running", name
        assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
        assert [n for n in c.attrs["NetworkSettings"]["Networks"]] == ["o3net"]
    env = {n: dict(e.split("=", 1) for e in site.container(n).attrs["Config"]["Env"]) for n in SITE_CONTAINERS}
    assert env["pacs"]["DPACS_CONNECTION_STRING"] == (
        f"driverClassName=com.mysql.cj.jdbc.Driver;jdbcUrl=jdbc:mysql://db:3306/;schema=public_pacs;username=root;password={PASSWORD}")
    assert env["view"]["NGV_CONNECTION_STRING"].endswith(f"jdbcUrl=jdbc:mysql://db:3306/public_view;username=root;password={PASSWORD}")
    assert env["view"]["ULTIMATE_CONNECTION_STRING"].endswith(f"jdbcUrl=jdbc:mysql://db:3306;schema=public_pacs;username=root;password={PASSWORD}")
    assert env["pacs-singleton"]["START_PERIODIC_SERVICES"] == "true" and "START_PERIODIC_SERVICES" not in env["pacs"]
    for name in ("pacs", "pacs-singleton", "view"):
        assert env[name]["LOG_TO"] == "FILE" and env[name]["TZ"] == "Europe/Rome"
    # The password is not in the db container's env, command or healthcheck.
    db_cfg = db.attrs["Config"]
    assert PASSWORD not in str(db_cfg["Env"]) + str(db_cfg["Cmd"]) + str(db_cfg.get("Healthcheck"))
    mounts = {n: {m["Destination"]: m["Source"] for m in site.container(n).attrs["Mounts"]} for n in SITE_CONTAINERS}
    s = site.storage
    assert mounts["db"] == {"/var/lib/mysql": f"{s}/compose/db"}
    assert mounts["pacs"] == {"/opt/storagePacs": f"{s}/compose/storage", "/opt/ipm/log": f"{s}/compose/pacs/log",
                              "/opt/ipm/shared-persist": f"{s}/compose/pacs/shared-persist"}
    assert mounts["view"] == {"/opt/storagePacs": f"{s}/compose/storage", "/opt/ipv/shared-persist": f"{s}/compose/view/shared-persist",
                              "/opt/ipv/log": f"{s}/compose/view/log"}
    pacs, view = http_json(8080), http_json(8181)
    assert pacs["role"] == "pacs" and pacs["version"] == VERSIONS["pacs"][0]
    assert http_json(4568)["role"] == "pacs"
    assert view["role"] == "view" and view["version"] == VERSIONS["view"][0]
    assert {d["schema"] for d in view["databases"]} == {"public_view", "public_pacs"}


APP_SCHEMAS = {"pacs": ["public_pacs"], "pacs-singleton": ["public_pacs"], "view": ["public_pacs", "public_view"]}
APP_FOLDERS = {"pacs": ["compose/storage", "compose/pacs/log", "compose/pacs/shared-persist"],
               "pacs-singleton": ["compose/storage", "compose/pacs/log"],
               "view": ["compose/storage", "compose/view/shared-persist", "compose/view/log"]}


def ready_status(container, timeout: float = 60) -> dict:
    """The stand-in app's own report: which schemas its connection strings reached."""
    deadline = time.monotonic() + timeout
    while True:
        logs = container.logs().decode(errors="replace")
        if "ready " in logs:
            return json.loads(logs.split("ready ", 1)[1].splitlines()[0])
        assert "FAILED" not in logs and time.monotonic() < deadline, f"{container.name}: {logs}"
        time.sleep(0.5)


def test_apps_reach_their_schemas_and_write_to_their_host_folders(site):
    for name, schemas in APP_SCHEMAS.items():
        status = ready_status(site.container(name))
        assert status["ok"] and status["role"] == name and status["tz"] == "Europe/Rome" and status["logTo"] == "FILE"
        assert sorted(d["schema"] for d in status["databases"]) == schemas
        for folder in APP_FOLDERS[name]:
            assert Path(site.storage, folder, f"standin-{name}.txt").exists(), (name, folder)


def test_db_runs_the_programs_healthcheck(site):
    hc = site.container("db").attrs["Config"]["Healthcheck"]
    assert hc["Test"][:2] == ["CMD", "mysqladmin"]
    assert (hc["Interval"], hc["Timeout"], hc["Retries"]) == (2 * 10**9, 10 * 10**9, 5)


def test_outputs_are_the_documented_ones(site):
    out = site.project.outputs()
    assert out["pacsUrl"] == "http://localhost:8080/" and out["viewUrl"] == "http://localhost:8181/"
    assert out["logFolders"] == {"pacs": f"{site.storage}/compose/pacs/log", "view": f"{site.storage}/compose/view/log"}
    assert out["storagePath"] == site.storage and out["backupFolder"] == f"{site.storage}/backups"
    assert len(out["nextSteps"]) == 3


def test_policy_pack_ran_and_found_nothing(site):
    text = site.first_up.stdout + site.first_up.stderr
    assert "o3-site" in text  # the pack was loaded
    assert "Policy Violations" not in text and "mandatory" not in text.lower().replace("mandatory)", "")


def test_secrets_stay_out_of_state_and_output(site):
    assert PASSWORD not in site.project.state_files_text()
    state = site.project.state_json()
    assert PASSWORD not in str(state)


def test_drift_check_is_green_right_after_up(site):
    site.project.preview("--refresh", "--expect-no-changes")


def test_drift_check_is_green_after_a_daemon_restart(site, docker_host):
    before = site.ids()
    ctl = os.environ.get("O3_TEST_DOCKERD_CTL")
    if not ctl:
        pytest.fail("O3_TEST_DOCKERD_CTL (tests/dockerd.sh with the daemon's name) is needed to restart the daemon")
    subprocess.run([ctl, "restart"], check=True, capture_output=True, timeout=180)
    deadline = time.monotonic() + 120
    seen: object = "nothing yet"
    while True:
        try:
            seen = {n: site.container(n).status for n in SITE_CONTAINERS}
            seen["db health"] = site.container("db").attrs["State"]["Health"]["Status"]
            if all(v == "running" for n, v in seen.items() if n != "db health") and seen["db health"] == "healthy":
                break
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:  # the daemon is still coming back
            seen = f"{type(e).__name__}: {e}"
        assert time.monotonic() < deadline, f"the site did not come back within 120 s of the daemon's restart; last seen: {seen}"
        time.sleep(1)
    assert site.ids() == before  # the same containers came back (restart: always)
    site.project.preview("--refresh", "--expect-no-changes")


def write_probe(site, tag: str) -> None:
    site.sql(f"CREATE TABLE IF NOT EXISTS public_pacs.{PROBE} (tag VARCHAR(32)); INSERT INTO public_pacs.{PROBE} VALUES ('{tag}')")
    Path(site.storage, "compose", "storage", f"{PROBE}-{tag}.dcm").write_text(tag)


def probes(site) -> list[str]:
    rows = sorted(site.sql(f"SELECT tag FROM public_pacs.{PROBE}").split())
    files = sorted(p.name for p in Path(site.storage, "compose", "storage").glob(f"{PROBE}-*.dcm"))
    assert files == [f"{PROBE}-{t}.dcm" for t in rows]
    return rows


def upgrade(site, component: str, version: str, expect_replaced: set[str], keep: set[str]):
    write_probe(site, f"before-{component}-{version}")
    rows_before = probes(site)
    ids = site.ids()
    dumps = site.backups()
    site.bump(component, version)
    steps = by_type(site.project.preview_steps())
    replaced = {name for op, items in steps.items() if op in ("replace", "create-replacement", "delete-replaced")
                for _, name in items}
    assert replaced == expect_replaced, steps
    assert set(steps) <= {"replace", "create-replacement", "delete-replaced"}, steps
    site.project.up()
    after = site.ids()
    for name in keep:
        assert after[name] == ids[name], f"{name} was replaced by a {component} bump"
    for name in set(SITE_CONTAINERS) - keep:
        assert after[name] != ids[name], f"{name} was not replaced by a {component} bump"
    new = sorted(set(site.backups()) - set(dumps))
    assert len(new) == 1, new
    assert probes(site) == rows_before
    return new[0]


def test_pacs_bump_replaces_pacs_only_after_a_dump(site):
    old, new = VERSIONS["pacs"]
    dump = upgrade(site, "pacs", new,
                   {f"{SITE}-pacs-image", f"{SITE}-apps-pacs", f"{SITE}-apps-pacs-singleton", f"{SITE}-backup-dump"},
                   keep={"db", "view"})
    # The dump names what ran when it was taken: the old pacs was still running.
    assert f"pacs-{old}" in dump.split("_to_")[0] and f"pacs-{new}" in dump.split("_to_")[1]
    dumped_at = Path(site.storage, "backups", dump).stat().st_mtime
    started = site.container("pacs").attrs["Created"]
    assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(dumped_at)) <= started[:19]
    assert http_json(8080)["version"] == new
    assert site.container("pacs").image.id == site.images.ids[site.images.ref("pacs", 1)]


def test_view_bump_replaces_view_only_after_a_dump(site):
    upgrade(site, "view", VERSIONS["view"][1],
            {f"{SITE}-view-image", f"{SITE}-apps-view", f"{SITE}-backup-dump"}, keep={"db", "pacs", "pacs-singleton"})
    assert http_json(8181)["version"] == VERSIONS["view"][1]


def test_db_bump_replaces_db_and_reruns_the_schema_step(site):
    upgrade(site, "db", VERSIONS["db"][1],
            # o3-maintenance runs on the db image (README: Upgrade)
            {f"{SITE}-db-image", f"{SITE}-db-container", f"{SITE}-schemas-create", f"{SITE}-backup-dump",
             f"{SITE}-maintenance-container"},
            keep={"pacs", "pacs-singleton", "view"})
    assert site.container("db").image.id == site.images.ids[site.images.ref("db", 1)]
    assert site.container("db").attrs["State"]["Health"]["Status"] == "healthy"


def test_rollback_by_reverting_the_bump_keeps_the_data(site):
    write_probe(site, "before-rollback")
    rows = probes(site)
    site.project.edit(lambda cfg: cfg["o3:images"].update(pacs=site.images.ref("pacs", 0)))
    site.project.up()
    assert http_json(8080)["version"] == VERSIONS["pacs"][0]
    assert probes(site) == rows
    site.project.preview("--refresh", "--expect-no-changes")


def test_a_pre_upgrade_dump_restores(site):
    latest = Path(site.storage, "backups", site.backups()[-1])
    rows = probes(site)
    site.sql(f"DELETE FROM public_pacs.{PROBE}")
    assert site.sql(f"SELECT COUNT(*) FROM public_pacs.{PROBE}").split() == ["0"]
    # The README's restore command.
    restore = subprocess.run(
        ["docker", "exec", "-i", "-e", "MYSQL_PWD", "db", "mysql", "-uroot"],
        input=gzip.open(latest).read(), capture_output=True,
        env={**os.environ, "DOCKER_HOST": os.environ["O3_TEST_DOCKER_HOST"], "MYSQL_PWD": PASSWORD},
    )
    assert restore.returncode == 0, restore.stderr
    restored = sorted(site.sql(f"SELECT tag FROM public_pacs.{PROBE}").split())
    assert restored and set(restored) <= set(rows)


def test_destroy_removes_the_containers_and_keeps_every_data_folder(site):
    write_probe(site, "before-destroy")
    rows = probes(site)
    backups = site.backups()
    site.project.destroy()
    assert not container_names(site.client) & set(SITE_CONTAINERS)
    assert site.client.networks.list(names=["o3net"]) == []
    for rel in ("compose/db/mysql", "compose/storage", "compose/pacs/shared-persist", "compose/view/shared-persist"):
        assert Path(site.storage, rel).is_dir(), rel
    assert site.backups() == backups
    # A new `up` on the same folders finds every row and file again.
    site.project.up()
    assert probes(site) == rows
