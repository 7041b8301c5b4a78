"""Proof that the off-site copies restore, with the real CLI, restic and rest-server (issue 26, §4):
4. a drill passes; after one pack file of the repository is corrupted, `ops.offsite check` and the
   drill fail, and ops.verify turns red;
7. the rollout's gate refuses a site whose newest off-site snapshot is older than its RPO, by name;
5. host lost: the site's containers and storage are deleted; ops.recover brings it back on a second
   host (a network namespace with its own sshd and dockerd, tests/sshhost.py) from the repository:
   every DICOM file with its checksum, every row, ops.verify green.
The site runs on the test daemon with o3:offsite pointing at the off-site test host (a network
namespace running rest-server append-only with TLS and a password, and a second instance for the
operator: tests/e2e/backuphost.py)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import pytest

import dicomset
from backuphost import BackupHost, offsite_config, offsite_secrets, restic_standin
from daemon import clean, mysql, site_disk
from e2e_harness import ROOT, SITE, Project, stack_config
from e2e_harness import VERSIONS, publish
from ops._site import use_ssh_opts
from site_fixtures import PASSWORD
from sitespec import offsite
from sshhost import RemoteHost

pytestmark = pytest.mark.e2e

REPO_PASSWORD = "e2e-offsite-repository-pw-01"
# The benchmark's size by environment (O3_DR_FILES=2000 O3_DR_FILE_BYTES=1000000: the 2 GB set).
FILES = int(os.environ.get("O3_DR_FILES", "60"))
FILE_BYTES = int(os.environ.get("O3_DR_FILE_BYTES", "65536"))
STORAGE = "/srv/o3-e2e-drill"


@pytest.fixture(scope="module")
def site_and_host(pulumi_env, docker_host, client, images, standins, nofile_cap):
    """The site on the test daemon and the off-site host its copies go to (rest-server from the toolchain)."""
    clean(client)
    backup_host = BackupHost(path=pulumi_env["PATH"]).up()
    work = Path(tempfile.mkdtemp(prefix="o3-e2e-drill-"))
    disk = contextlib.ExitStack()
    storage = STORAGE  # under /srv: the recovery host's /srv is its own
    disk.enter_context(site_disk(storage))
    cfg = stack_config(storage, images, docker_host, nofile_cap)
    cfg["o3:images"]["restic"] = restic_standin(client, standins["db"], shutil.which("restic", path=pulumi_env["PATH"]))
    cfg["o3:offsite"] = offsite_config(backup_host, SITE)
    secrets = offsite_secrets(backup_host, REPO_PASSWORD)
    project = Project(work, "drill", pulumi_env, secrets=[PASSWORD, *secrets.values()])
    project.init(cfg, {"o3:dbPassword": PASSWORD, **secrets})
    project.up()
    yield project, Path(storage), backup_host
    backup_host.down()
    project.destroy(check=False)
    project.remove()
    clean(client)
    disk.close()
    shutil.rmtree(work, ignore_errors=True)


def ops(project: Project, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", *args, "--dir", str(project.dir)], cwd=ROOT, env=project.env,
                         capture_output=True, text=True, timeout=timeout)
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text
    leaked = [i for i, s in enumerate(project.secrets) if s in text]
    assert not leaked, f"{args[0]} printed secret #{leaked[0]}"
    return out


def night(client, storage: Path) -> str:
    """Some images and rows, then the site's own off-site run (o3-maintenance hands it the dump)."""
    dicom = storage / "compose" / "storage"
    if not any(dicom.rglob("*.dcm")):
        start = time.monotonic()
        made = dicomset.generate(dicom, files=FILES, file_bytes=FILE_BYTES)
        print(f"\n[figures] data set: {len(made)} DICOM files, {sum(f.stat().st_size for f in made) / 1e6:.1f} MB "
              f"in {time.monotonic() - start:.1f} s")
    persist = storage / "compose" / "pacs" / "shared-persist" / "settings.xml"
    persist.write_text("<settings drill='1'/>")
    db = client.containers.get("db")
    mysql(db, "CREATE TABLE IF NOT EXISTS public_pacs.studies (id INT PRIMARY KEY, uid VARCHAR(64));"
              "INSERT IGNORE INTO public_pacs.studies VALUES " + ",".join(f"({i}, 'uid-{i}')" for i in range(137)))
    start = time.monotonic()
    code, out = client.containers.get("o3-maintenance").exec_run(["/bin/sh", offsite.DUMP_SCRIPT, "offsite", "nightly"])
    text = out.decode(errors="replace")
    assert code == 0 and "o3-offsite: ok" in text, text
    print(f"\n[figures] one night off-site: {time.monotonic() - start:.1f} s: {text.strip().splitlines()[-1]}")
    return text


def test_a_drill_passes_then_a_corrupted_pack_fails_check_drill_and_verify(site_and_host, client):
    project, storage, backup_host = site_and_host
    night(client, storage)
    before = {c.name for c in client.containers.list(all=True)}

    drill = ops(project, "ops.drill", "--stack", project.stack)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert f"passed: {FILES + 2}" in drill.stdout or "passed:" in drill.stdout, drill.stdout
    m = re.search(r"passed: (\d+) files with their checksums, (\d+) tables and (\d+) rows", drill.stdout)
    assert m and int(m.group(1)) >= FILES + 1 and int(m.group(3)) >= 137, drill.stdout
    assert "RPO reached" in drill.stdout and "read" in drill.stdout
    print("\n[figures] drill: " + " | ".join(line for line in drill.stdout.splitlines() if "RPO" in line or "took" in line))
    assert {c.name for c in client.containers.list(all=True)} == before, "the drill's scratch MySQL is gone"
    assert client.containers.get("db").status == "running"

    check = ops(project, "ops.offsite", "check", "--stack", project.stack, "--subset", "100%")
    assert check.returncode == 0, check.stdout + check.stderr
    verify = ops(project, "ops.verify", "--stack", project.stack)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for name in ("off-site run", "off-site drill", "off-site check"):
        assert re.search(rf"PASS\s+{name}\b", verify.stdout), verify.stdout

    # One pack of DICOM data damaged on the repository's disk (bit rot, a bad copy).
    packs = [p for p in backup_host.files(SITE, "data")]
    pack = max(packs, key=lambda p: p.stat().st_size)
    raw = bytearray(pack.read_bytes())
    for i in range(0, len(raw), 4096):
        raw[i] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(raw))

    check = ops(project, "ops.offsite", "check", "--stack", project.stack, "--subset", "100%")
    assert check.returncode == 1 and "FAILED" in check.stdout, check.stdout + check.stderr
    drill = ops(project, "ops.drill", "--stack", project.stack)
    assert drill.returncode == 1 and "FAILED" in drill.stdout, drill.stdout + drill.stderr
    print("\n[figures] damaged: " + drill.stdout.splitlines()[0][:300])
    assert {c.name for c in client.containers.list(all=True)} == before
    verify = ops(project, "ops.verify", "--stack", project.stack)
    assert verify.returncode == 1, verify.stdout
    assert re.search(r"FAIL\s+off-site drill\s+the last drill failed", verify.stdout), verify.stdout
    assert re.search(r"FAIL\s+off-site check\s+the last check failed", verify.stdout), verify.stdout


def test_the_rollout_gate_refuses_a_stale_site_by_name(site_and_host):
    project, _, backup_host = site_and_host
    fresh = ops(project, "ops.offsite", "gate", "--stack", project.stack)
    assert fresh.returncode == 0 and f"site {SITE}:" in fresh.stdout, fresh.stdout + fresh.stderr

    # A second site whose last copies went off-site 30 hours ago (its nights have failed since).
    stale = "stale-site"
    backup_host.restic(stale, "init", operator=True, password=REPO_PASSWORD)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 30 * 3600))
    for tag, name in (("dump", "o3-dump.sql"), ("storage", "files")):
        tags = ["--tag", "o3", "--tag", tag] + (["--tag", "nightly"] if tag == "dump" else [])
        backup_host.restic(stale, "backup", "--host", stale, "--time", when, *tags, "--stdin-filename", name,
                           "--stdin-from-command", "--", "echo", "old", operator=True, password=REPO_PASSWORD)
    project.edit(lambda c: (c["o3:site"].update(name=stale), c.update({"o3:offsite": offsite_config(backup_host, stale)})))
    try:
        refused = ops(project, "ops.offsite", "gate", "--stack", project.stack)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"refused: site {stale}" in refused.stderr and "older than o3:offsite.rpoHours 26" in refused.stderr
        assert re.search(r"is 30\.\d h old", refused.stderr), refused.stderr
        print(f"\n[figures] gate: {refused.stderr.strip()[:240]}")
    finally:
        project.edit(lambda c: (c["o3:site"].update(name=SITE), c.update({"o3:offsite": offsite_config(backup_host, SITE)})))


def checksums(storage: Path) -> dict[str, str]:
    """Every file of the storage and shared-persist folders but the stand-in apps' own, which they
    rewrite at each start (standin-<role>.txt)."""
    return {str(p.relative_to(storage)): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in ("compose/storage", "compose/pacs/shared-persist", "compose/view/shared-persist")
            for p in sorted((storage / folder).rglob("*")) if p.is_file() and not p.name.startswith("standin-")}


ROWS_SQL = ("SELECT CONCAT(table_schema, '.', table_name, '=', table_rows) FROM information_schema.tables "
            "WHERE table_schema IN ('public_pacs', 'public_view')")


def forward(a: str, b: str, add: bool) -> None:
    """This machine forwards between two test namespaces' veths (the FORWARD policy is DROP here)."""
    for i, o in ((a, b), (b, a)):
        subprocess.run(["iptables", "-I" if add else "-D", "FORWARD", "-i", i, "-o", o, "-j", "ACCEPT"],
                       check=add, capture_output=True)


def test_host_lost_the_site_comes_back_on_a_new_host_from_the_repository(site_and_host, client, docker_host,
                                                                          standins, images, pulumi_env):
    project, storage, backup_host = site_and_host
    # A repository of its own (scenario 4 damaged the first one), a night into it.
    project.edit(lambda c: c.update({"o3:offsite": offsite_config(backup_host, SITE + "-dr")}))
    project.up()
    night(client, storage)
    files = checksums(storage)
    probe = "SELECT COUNT(*) FROM public_pacs.studies"
    rows = int(mysql(client.containers.get("db"), probe).split()[0])
    assert len(files) > FILES and rows == 137

    # The host is lost: its containers and every file of the site.
    clean(client)
    for child in storage.iterdir():
        shutil.rmtree(child)

    nh = RemoteHost("o3nh", "10.231.10", data_root="/var/lib/o3-nh-docker")
    path = os.environ["PATH"]
    try:
        nh.up()
        forward(nh.host_if, backup_host.host_if, True)
        refs = {c: images.ref(c) for c in ("db", "pacs", "view")}
        restic_image = restic_standin(client, standins["db"], shutil.which("restic", path=pulumi_env["PATH"]))
        nh.load(docker_host, [standins["db"], standins["app"], restic_image])
        use_ssh_opts(nh.ssh_opts())
        rclient = docker.DockerClient(base_url=nh.docker_host, use_ssh_client=True, timeout=300)
        for comp, ref in refs.items():  # the same references, tagged on the new host (no registry there)
            publish(rclient, standins[comp if comp == "db" else "app"], ref, VERSIONS[comp][0], push=False)

        # The stack file now points at the new host (what the runbook asks the operator to change).
        project.edit(lambda c: (c.update({"docker:host": nh.docker_host, "docker:sshOpts": nh.ssh_opts()}),
                                c["o3:site"].update(publicHost=nh.address), c["o3:ports"].update(bindAddress="0.0.0.0")))
        out = ops(project, "ops.recover", "--stack", project.stack, timeout=1800)
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-3000:]
        assert "result: the site works" in out.stdout, out.stdout[-3000:]
        print("\n[figures] recover: " + " | ".join(l for l in out.stdout.splitlines() if "RTO" in l or "rows as" in l))

        got = nh.ssh(f"cd {STORAGE} && find compose/storage compose/pacs/shared-persist compose/view/shared-persist "
                     "-type f -exec sha256sum {} +").stdout
        recovered = {line.split(None, 1)[1].strip(): line.split()[0] for line in got.splitlines()
                     if line.strip() and not line.split(None, 1)[1].rsplit("/", 1)[-1].startswith("standin-")}
        assert recovered == files, set(files) ^ set(recovered)
        count = nh.ssh("docker exec db sh -c 'MYSQL_PWD=$(cat /etc/o3-db-root-password) mysql -uroot -N -e "
                       f"\"{probe}\"'").stdout
        assert int(count.split()[0]) == rows
        verify = ops(project, "ops.verify", "--stack", project.stack)
        assert verify.returncode == 0, verify.stdout
        # Bad input on the recovered host: it now holds a site, so a second recovery is refused.
        again = ops(project, "ops.recover", "--stack", project.stack)
        assert again.returncode == 2 and "already holds a site's data" in again.stderr, again.stderr
    finally:
        os.environ["PATH"] = path
        forward(nh.host_if, backup_host.host_if, False)
        nh.down()
