"""Hospital-grade operation with the real CLI: the HTTPS front door (and a renewal that touches
only it), the scheduled nightly dump and a restore with ops.restore, and bounded logs."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import zoneinfo
from pathlib import Path

import pytest

from daemon import clean, mysql, site_disk
from e2e_harness import ROOT, SITE, Project, by_type, stack_config
from site_fixtures import PASSWORD
from tlsfixtures import TestCA

pytestmark = pytest.mark.e2e

CA = TestCA("O3 e2e CA")
ZONE = zoneinfo.ZoneInfo("Europe/Rome")


@pytest.fixture(scope="module")
def tls_site(pulumi_env, docker_host, client, images, nofile_cap):
    clean(client)
    work = Path(tempfile.mkdtemp(prefix="o3-e2e-ops-"))
    disk = contextlib.ExitStack()
    disk.enter_context(site_disk(str(work / "storage")))  # verify checks the site's disk, not this machine's
    issued = CA.issue("localhost", "127.0.0.1")
    cfg = stack_config(str(work / "storage"), images, docker_host, nofile_cap)
    cfg["o3:site"]["publicHost"] = "localhost"
    cfg["o3:ports"] = {"bindAddress": "0.0.0.0"}
    cfg["o3:tls"] = {"enabled": True, "certificate": issued.cert_pem}
    cfg["o3:images"]["proxy"] = images.ref("proxy")
    key_line = issued.key_pem.split("\n")[1]
    project = Project(work, "ops", pulumi_env, secrets=[PASSWORD, key_line])
    project.init(cfg, {"o3:dbPassword": PASSWORD, "o3:tlsKey": issued.key_pem})
    project.up()
    (work / "ca.pem").write_text(CA.pem)
    yield project, work, key_line
    project.destroy(check=False)
    project.remove()
    clean(client)
    disk.close()
    shutil.rmtree(work, ignore_errors=True)


def https(port: int, cafile: Path):
    ctx = ssl.create_default_context(cafile=str(cafile))
    with urllib.request.urlopen(f"https://localhost:{port}/", context=ctx, timeout=10) as r:
        return r.status, r.headers, json.loads(r.read())


def test_https_with_the_sites_certificate_and_plain_http_on_loopback_only(tls_site, client):
    project, work, _ = tls_site
    status, headers, body = https(443, work / "ca.pem")
    assert status == 200 and body["role"] == "view" and "max-age" in headers["Strict-Transport-Security"]
    assert https(8443, work / "ca.pem")[2]["role"] == "pacs"
    for name, port in (("view", 8181), ("pacs", 8080)):
        bindings = client.containers.get(name).attrs["HostConfig"]["PortBindings"][f"{port}/tcp"]
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]


def test_a_renewal_replaces_only_the_proxy_and_nothing_secret_leaks(tls_site, client):
    project, work, key_line = tls_site
    renewed = CA.issue("localhost", "127.0.0.1", days=700)
    project.secrets.append(renewed.key_pem.split("\n")[1])
    ids = {n: client.containers.get(n).id for n in ("db", "pacs", "pacs-singleton", "view", "o3-maintenance")}
    project.edit(lambda cfg: cfg["o3:tls"].update(certificate=renewed.cert_pem))
    project.pulumi("config", "set", "--secret", "o3:tlsKey", "--stack", project.stack, input=renewed.key_pem)
    steps = by_type(project.preview_steps())
    changed = {name for items in steps.values() for _, name in items}
    assert changed == {f"{SITE}-proxy-container"}, steps
    project.up()
    assert {n: client.containers.get(n).id for n in ids} == ids
    for line in (key_line, renewed.key_pem.split("\n")[1]):
        assert line not in project.state_files_text()


def site_now(minutes: int = 0) -> str:
    return (dt.datetime.now(ZONE) + dt.timedelta(minutes=minutes)).strftime("%H:%M")


def ops(project: Project, command: str, *args: str):
    return subprocess.run([sys.executable, "-m", f"ops.{command}", "--stack", project.stack, "--dir", str(project.dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_scheduled_dump_runs_and_a_deleted_row_comes_back(tls_site, client):
    project, work, _ = tls_site
    backups = work / "storage" / "backups"
    db = client.containers.get("db")
    mysql(db, "CREATE TABLE public_pacs.nightly_probe (v INT); INSERT INTO public_pacs.nightly_probe VALUES (1)")
    project.edit(lambda cfg: cfg.setdefault("o3:backup", {}).update(schedule=site_now(+2)))
    steps = by_type(project.preview_steps())
    assert {name for items in steps.values() for _, name in items} == {f"{SITE}-maintenance-container"}
    project.up()
    # The day marker goes once the old loop is gone: a loop that finds none past its own time
    # dumps at once, and one killed by the replacement mid-dump would leave today marked done.
    (backups / ".o3-nightly-day").unlink(missing_ok=True)
    deadline = time.monotonic() + 200
    while not list(backups.glob("o3-nightly-*.sql.gz")) and time.monotonic() < deadline:
        time.sleep(2)
    dumps = sorted(backups.glob("o3-nightly-*.sql.gz"))
    assert dumps, f"no nightly dump within 200 s: {client.containers.get('o3-maintenance').logs().decode()[-2000:]}"
    dump = dumps[-1]
    assert gzip.open(dump, "rt").readline() == f"-- o3-site: {SITE}\n"
    mysql(db, "DELETE FROM public_pacs.nightly_probe")
    out = ops(project, "restore", "--file", dump.name, "--yes")
    assert out.returncode == 0, out.stderr
    assert mysql(db, "SELECT v FROM public_pacs.nightly_probe").split() == ["1"]
    bad = backups / "o3-nightly-corrupt.sql.gz"
    bad.write_bytes(dump.read_bytes()[:-64])
    out = ops(project, "restore", "--file", bad.name, "--yes")
    assert out.returncode == 1 and "corrupt" in out.stderr


def test_every_container_has_log_limits(tls_site, client):
    found = {c.name: c.attrs["HostConfig"]["LogConfig"] for c in client.containers.list(filters={"label": f"o3.site={SITE}"})}
    assert set(found) == {"db", "pacs", "pacs-singleton", "view", "o3-maintenance", "o3-proxy"}
    for name, log in found.items():
        assert log == {"Type": "json-file", "Config": {"max-size": "50m", "max-file": "5"}}, name


def test_the_site_verifies(tls_site):
    project, work, _ = tls_site
    out = ops(project, "verify", "--ca-file", str(work / "ca.pem"))
    assert out.returncode == 0, out.stdout + out.stderr
