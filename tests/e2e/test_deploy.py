"""The README's deploy command, for real: `scripts/deploy <site>` on a copy of the repository
deploys a test stack on the private daemon with the real CLI, the policy pack, preflight and
verify, and the site then runs."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from daemon import clean, container_names, mysql, site_disk
from e2e_harness import ROOT, SITE_CONTAINERS, Project, http_json, stack_config
from site_fixtures import PASSWORD

pytestmark = pytest.mark.e2e


def test_scripts_deploy_deploys_a_site_that_verifies(pulumi_env, docker_host, client, images, nofile_cap):
    clean(client)
    work = Path(tempfile.mkdtemp(prefix="o3-e2e-deploy-"))
    project = Project(work, "deploy-test", pulumi_env, secrets=[PASSWORD])
    disk = contextlib.ExitStack()
    disk.enter_context(site_disk(str(work / "storage")))  # verify checks the site's disk, not this machine's
    try:
        # What the script needs beside the program: itself, the operator commands and the pack.
        shutil.copytree(ROOT / "scripts", project.dir / "scripts")
        shutil.copy2(ROOT / ".pulumi-version", project.dir)  # scripts/deploy names the pinned CLI from it
        shutil.copytree(ROOT / "ops", project.dir / "ops")
        shutil.copytree(ROOT / "policy", project.dir / "policy", ignore=shutil.ignore_patterns("venv"))
        (project.dir / "policy" / "venv").symlink_to(ROOT / "policy" / "venv")
        project.init(stack_config(str(work / "storage"), images, docker_host, nofile_cap), {"o3:dbPassword": PASSWORD})
        deploy = [str(project.dir / "scripts" / "deploy"), project.stack, "--yes", "--non-interactive"]
        # This test host has 2 cores, the site needs 6: preflight stops the deploy before `up`.
        out = subprocess.run(deploy, cwd=work, env=project.env, capture_output=True, text=True, timeout=900)
        text = out.stdout + out.stderr
        assert out.returncode == 1 and "FAIL  cores" in text and "O3_SKIP_PREFLIGHT=1" in text, text[-3000:]
        assert not container_names(client) & set(SITE_CONTAINERS)
        # The operator's override, as the message says.
        out = subprocess.run(deploy, cwd=work, env={**project.env, "O3_SKIP_PREFLIGHT": "1"},
                             capture_output=True, text=True, timeout=900)
        text = out.stdout + out.stderr
        assert PASSWORD not in text
        assert out.returncode == 0, text[-5000:]
        for name in SITE_CONTAINERS:
            assert client.containers.get(name).status == "running", name
        assert {"public_pacs", "public_view"} <= set(mysql(client.containers.get("db"), "SHOW DATABASES").split())
        assert http_json(8181)["role"] == "view"
    finally:
        project.destroy(check=False)
        project.remove()
        clean(client)
        disk.close()
        shutil.rmtree(work, ignore_errors=True)
