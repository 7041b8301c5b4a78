"""Issue 26 §4, scenario 6, on the real test cluster: a Kubernetes site's namespace is lost with its
volumes (and their data), and the site comes back from its off-site repository.

The site's own CronJob o3-offsite (the restic stand-in loaded onto both nodes) sends a night's dump
and storage to rest-server (append-only, TLS, a password) on an off-site host: a network namespace
of its own, beside the Docker scenarios' one; a pacs bump's pre-upgrade Job sends its dump too.
Then the namespace and the volumes are deleted, and
`ops.recover` brings the site back into a new namespace of the same name: every DICOM file with its
checksum, the shared-persist file, every row, and ops.verify green. Before the loss, the same command
refuses the still-populated namespace and touches nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dicomset
from backuphost import BackupHost, offsite_config, offsite_secrets, restic_standin
from e2e_harness import ROOT, Project
from kube_harness import KUBE_VERSIONS, REGISTRY, cluster, kube_json, kube_stack_config, kubectl, mysql, new_workdir
from site_fixtures import PASSWORD
from sitespec.guide import FOLDERS

pytestmark = pytest.mark.e2e

SITE = NS = "kube-dr"
REPO_PASSWORD = "e2e-kube-offsite-repo-pw-06"
FILES = int(os.environ.get("O3_DR_KUBE_FILES", "40"))
FILE_BYTES = int(os.environ.get("O3_DR_FILE_BYTES", "65536"))
ROWS = 211
BACKUP_NET = "10.231.19"  # the off-site host's (the Docker scenarios' is 10.231.9: both families run at once)


def volume_folder(claim: str) -> Path:
    """The host folder behind a claim of the namespace (the test cluster's host-path class)."""
    pv = kube_json("get", "pvc", "-n", NS, claim)["spec"]["volumeName"]
    return Path(kube_json("get", "pv", pv)["spec"]["hostPath"]["path"])


def checksums(root: Path) -> dict[str, str]:
    """sha256 of the DICOM and settings files under root (the stand-in apps add files of their own)."""
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(root.rglob("*")) if f.is_file() and f.suffix in (".dcm", ".xml")}


def ops(project: Project, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", *args, "--stack", project.stack, "--dir", str(project.dir)], cwd=ROOT,
                         env=project.env, capture_output=True, text=True, timeout=timeout)
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text
    leaked = [i for i, s in enumerate(project.secrets) if s in text]
    assert not leaked, f"{args[0]} printed secret #{leaked[0]}"
    return out


@pytest.fixture(scope="module")
def site(pulumi_env, kube_cluster, kube_refs, client, docker_host, standins):
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=600)
    bk = BackupHost(name="o3bkk", net=BACKUP_NET, path=pulumi_env["PATH"]).up()
    cluster("reach", f"{BACKUP_NET}.0/24", bk.host_if)  # the cluster's networks have no other way out
    work = new_workdir("o3-e2e-kube-dr-")
    built = restic_standin(client, standins["db"], shutil.which("restic", path=pulumi_env["PATH"]))
    restic = f"{REGISTRY}/restic:{built.split(':')[1]}"
    client.images.get(built).tag(restic)
    tar = work / "restic.tar"
    subprocess.run(["docker", "save", "-o", str(tar), restic], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_HOST": docker_host})
    cluster("load-image", str(tar), timeout=1200)
    tar.unlink()
    cfg = kube_stack_config(SITE, kube_cluster, kube_refs)
    cfg["o3:images"]["restic"] = restic
    cfg["o3:offsite"] = offsite_config(bk, SITE)
    secrets = offsite_secrets(bk, REPO_PASSWORD)
    project = Project(work, SITE, pulumi_env, secrets=[PASSWORD, *secrets.values()])
    project.init(cfg, {"o3:dbPassword": PASSWORD, **secrets})
    try:
        project.up()
        yield project, bk
    finally:
        project.destroy(check=False)
        project.remove()
        kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", check=False, timeout=600)
        cluster("unreach", f"{BACKUP_NET}.0/24", bk.host_if, check=False)
        bk.down()
        shutil.rmtree(work, ignore_errors=True)


def night() -> str:
    """The site's own CronJob, run now."""
    job = f"night-{int(time.time())}"
    kubectl("create", "job", job, "--from=cronjob/o3-offsite", "-n", NS)
    start = time.monotonic()
    while True:
        st = kube_json("get", "job", "-n", NS, job)["status"]
        if st.get("succeeded") or st.get("failed"):
            break
        assert time.monotonic() - start < 600, "the off-site Job did not finish within 600 s"
        time.sleep(2)
    log = kubectl("logs", "-n", NS, f"job/{job}", "-c", "restic")
    assert st.get("succeeded") and "o3-offsite: ok" in log, log + kubectl("logs", "-n", NS, f"job/{job}", "-c", "dump",
                                                                             check=False)
    print(f"\n[figures] one night off-site from the CronJob's pod: {time.monotonic() - start:.1f} s: "
          f"{log.strip().splitlines()[-1]}")
    return log


def test_a_lost_namespace_comes_back_from_the_off_site_repository(site, docker_host, kube_refs):
    project, bk = site
    data = volume_folder("o3-data")
    made = dicomset.generate(data / FOLDERS["storage"], files=FILES, file_bytes=FILE_BYTES)
    (data / FOLDERS["pacsSharedPersist"]).mkdir(parents=True, exist_ok=True)
    (data / FOLDERS["pacsSharedPersist"] / "settings.xml").write_text("<settings recovered='yes'/>")
    mysql(NS, "CREATE TABLE IF NOT EXISTS public_pacs.studies (id INT PRIMARY KEY, uid VARCHAR(64));"
              "INSERT IGNORE INTO public_pacs.studies VALUES " + ",".join(f"({i}, 'uid-{i}')" for i in range(ROWS)),
          PASSWORD)
    night()
    before = {role: checksums(data / FOLDERS[role]) for role in ("storage", "pacsSharedPersist")}
    assert len(before["storage"]) == len(made) and before["pacsSharedPersist"]
    size = sum(f.stat().st_size for f in made)

    # An upgrade: the pre-upgrade Job sends its dump off-host before anything is replaced.
    pacs = kube_refs[("pacs", KUBE_VERSIONS["pacs"][1])]
    project.edit(lambda c: c["o3:images"].update(pacs=pacs))
    project.up()
    pre = json.loads(bk.restic(SITE, "snapshots", "--json", "--tag", "pre-upgrade", operator=True,
                               password=REPO_PASSWORD).stdout)
    assert len(pre) == 1 and "dump" in pre[0]["tags"], pre
    (job,) = [j for j in kube_json("get", "jobs", "-n", NS)["items"] if j["metadata"]["name"].startswith(f"{SITE}-backup")]
    sent = kubectl("logs", "-n", NS, f"job/{job['metadata']['name']}", "-c", "restic")
    assert "o3-offsite: ok" in sent, sent
    print(f"[figures] the pre-upgrade dump off-host before the pacs bump: {sent.strip().splitlines()[-1]}")

    # The drill of a Kubernetes site: its scratch MySQL on a Docker daemon the operator names.
    drill = ops(project, "ops.drill", "--docker-host", docker_host, "--json")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    result = json.loads(drill.stdout)
    assert result["ok"] and result["files"] >= len(made) + 1 and result["rows"] >= ROWS, result
    print(f"[figures] drill of the Kubernetes site: {result['seconds']} s, {result['bytes_read']} bytes read: "
          f"{result['detail']}")

    # The namespace still holds the site's volumes: refused, nothing touched.
    refused = ops(project, "ops.recover")
    assert refused.returncode == 2 and "already holds a site's data" in refused.stderr, refused.stdout + refused.stderr
    assert kube_json("get", "pods", "-n", NS, "-l", "app.kubernetes.io/name=pacs")["items"], "the refusal touched the site"

    # The loss: the namespace, its volumes, and the folders behind them.
    volumes = [pv for pv in kube_json("get", "pv")["items"] if (pv["spec"].get("claimRef") or {}).get("namespace") == NS]
    kubectl("delete", "namespace", NS, "--wait=true", timeout=600)
    for pv in volumes:
        kubectl("delete", "pv", pv["metadata"]["name"], "--ignore-not-found", "--wait=true")
        shutil.rmtree(pv["spec"]["hostPath"]["path"], ignore_errors=True)
    assert not data.exists()

    out = ops(project, "ops.recover")
    print(out.stdout + out.stderr)
    assert out.returncode == 0, out.stdout + out.stderr
    rto = next(line for line in out.stdout.splitlines() if "RTO" in line)
    print(f"[figures] namespace lost ({FILES} files, {size / 1e6:.1f} MB): {rto}")

    new = volume_folder("o3-data")
    assert new != data
    for role, sums in before.items():
        assert checksums(new / FOLDERS[role]) == sums, f"{role} differs after the recovery"
    assert mysql(NS, "SELECT COUNT(*) FROM public_pacs.studies", PASSWORD).split() == [str(ROWS)]
    pacs = [p for p in kube_json("get", "pods", "-n", NS, "-l", "app.kubernetes.io/name=pacs")["items"]
            if all(c.get("ready") for c in p["status"].get("containerStatuses", [{}]))]
    assert len(pacs) == 2, "pacs is not back at full strength"
    verify = ops(project, "ops.verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # Scenario 8 on the cluster: no secret in a pod spec, a Job, a CronJob, a ConfigMap or the state.
    specs = kubectl("get", "pods,jobs,cronjobs,configmaps,networkpolicies", "-n", NS, "-o", "json")
    state = project.state_files_text()
    for i, secret in enumerate(project.secrets):
        assert secret not in specs, f"secret #{i} is in the namespace's specs"
        assert secret not in state, f"secret #{i} is in the stack's state in plain text"
