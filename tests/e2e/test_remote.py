"""A site over ssh:// with the real CLI: `pulumi up`, the drift check, a bump and `destroy` on a
remote test host (tests/sshhost.py: a network namespace with its own sshd and dockerd), reached
with the stack's docker:sshOpts. The data is on that host, and stays there after destroy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from e2e_harness import REPOS, ROOT, SITE, VERSIONS, Project, by_type, publish
from ops._site import use_ssh_opts
from site_fixtures import PASSWORD
from sshhost import RemoteHost

pytestmark = pytest.mark.e2e
STORAGE = "/srv/o3-remote"


@pytest.fixture(scope="module")
def remote(pulumi_env, docker_host, standins):
    import docker

    host = RemoteHost().up()
    path = os.environ["PATH"]
    try:
        host.load(docker_host, list(standins.values()))
        use_ssh_opts(host.ssh_opts())
        rclient = docker.DockerClient(base_url=host.docker_host, use_ssh_client=True, timeout=300)
        refs = {}
        for comp, versions in VERSIONS.items():
            for v in versions:  # one image per release, tagged on the host (no registry needed)
                ref = f"registry.o3.test/{REPOS[comp]}:{v}"
                publish(rclient, standins[comp if comp in ("db", "proxy") else "app"], ref, v, push=False)
                refs[(comp, v)] = ref
        yield host, refs
    finally:
        os.environ["PATH"] = path  # the ssh wrapper is this module's, not the next one's
        host.down()


def test_up_drift_bump_and_destroy_over_ssh(remote, pulumi_env):
    host, refs = remote
    work = Path(tempfile.mkdtemp(prefix="o3-e2e-remote-"))
    project = Project(work, "remote", pulumi_env, secrets=[PASSWORD])
    cfg = {
        "o3:site": {"name": SITE, "timezone": "Europe/Rome", "storagePath": STORAGE, "concurrentUsers": 10,
                    "examsPerDay": 100, "publicHost": host.address},
        "o3:host": {"cpuCores": 8, "memoryGb": 16, "storageGb": 500, "networkMbps": 1000},
        "o3:images": {c: refs[(c, VERSIONS[c][0])] for c in ("db", "pacs", "view")},
        "o3:database": {"ulimits": {"nofileSoft": 20000, "nofileHard": 20000}, "waitTimeoutSeconds": 120},
        "docker:host": host.docker_host,
        "docker:sshOpts": host.ssh_opts(),
    }
    project.init(cfg, {"o3:dbPassword": PASSWORD})
    try:
        project.up()
        for folder in ("compose/db/mysql", "compose/storage", "compose/pacs/shared-persist", "compose/view/log", "backups"):
            assert host.remote_path_exists(f"{STORAGE}/{folder}"), folder
        assert not os.path.exists(STORAGE)
        dbs = host.ssh("docker exec db sh -c 'MYSQL_PWD=$(cat /etc/o3-db-root-password) mysql -uroot -N -e \"SHOW DATABASES\"'").stdout
        assert {"public_pacs", "public_view"} <= set(dbs.split())
        project.preview("--refresh", "--expect-no-changes")
        project.edit(lambda c: c["o3:images"].update(pacs=refs[("pacs", VERSIONS["pacs"][1])]))
        replaced = {n for items in by_type(project.preview_steps()).values() for _, n in items}
        assert replaced == {f"{SITE}-pacs-image", f"{SITE}-apps-pacs", f"{SITE}-apps-pacs-singleton", f"{SITE}-backup-dump"}
        project.up()
        dumps = host.ssh(f"ls {STORAGE}/backups").stdout.split()
        assert any(n.startswith("o3-backup-") and n.endswith(".sql.gz") for n in dumps), dumps
        verify = subprocess.run([sys.executable, "-m", "ops.verify", "--stack", "remote", "--dir", str(project.dir)],
                                cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        project.destroy()
        assert host.ssh("docker ps -aq").stdout.strip() == ""
        assert host.remote_path_exists(f"{STORAGE}/compose/db/mysql")  # the data stays on the host
    finally:
        project.destroy(check=False)
        project.remove()
        shutil.rmtree(work, ignore_errors=True)
