"""A Kubernetes site's locked-down namespace on the real test cluster (issue 27 §3 and §4, scenario 6),
with the real CLI and providers, NetworkPolicy enforced by kube-router (tests/kube/cluster.sh):

- a pod in another namespace cannot reach db:3306, while it does reach pacs's port (so the
  refusal is the policy's, not a broken network); a pod of the site's namespace without the
  db-client label cannot reach it either;
- the apps reach MySQL from inside their pods, the schema and pre-upgrade Jobs completed, and a
  dump Job made from the nightly CronJob (`ops.backup`) writes its dump;
- the namespace's Pod Security label admits the site's pods (the deploy succeeds, every pod runs
  under its securityContext) and refuses a privileged pod."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from e2e_harness import ROOT, Project
from kube_harness import KUBE_VERSIONS, cluster, kube_json, kube_stack_config, kubectl, new_workdir, pods
from site_fixtures import PASSWORD

pytestmark = pytest.mark.e2e
SITE = "lock-site"
OUTSIDE = "lock-outsider"
# A TCP connection from inside a pod, by the stand-in images' python3: prints ok or the error.
CONNECT = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()"
           "\n print('ok')\nexcept OSError as e:\n print('refused', e)")


@pytest.fixture(scope="module")
def site(pulumi_env, kube_cluster, kube_refs):
    for ns in (SITE, OUTSIDE):
        kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true", timeout=600)
    work = new_workdir("o3-e2e-kube-lockdown-")
    project = Project(work, SITE, pulumi_env, secrets=[PASSWORD])
    project.refs = kube_refs
    project.init(kube_stack_config(SITE, kube_cluster, kube_refs), {"o3:dbPassword": PASSWORD})
    try:
        t = time.monotonic()
        project.up()
        print(f"\n[figures] locked-down site: up with the pack in {time.monotonic() - t:.0f} s")
        yield project
    finally:
        project.destroy(check=False)
        project.remove()
        for ns in (SITE, OUTSIDE):
            kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true", check=False, timeout=600)
        shutil.rmtree(work, ignore_errors=True)


def connect(namespace: str, target: str, host: str, port: int) -> str:
    """Try host:port from inside `target` (pod/NAME or deployment/NAME): 'ok' or 'refused ...'."""
    return kubectl("exec", "-n", namespace, target, "--", "python3", "-c", CONNECT, host, str(port), timeout=60).strip()


def client_pod(namespace: str, name: str, image: str, labels: dict[str, str]) -> str:
    """A pod on the db stand-in image (python3) that only sleeps; ready when it runs. Confined as
    the namespace's Pod Security asks."""
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"automountServiceAccountToken": False, "restartPolicy": "Never",
                         "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                         "containers": [{"name": "c", "image": image, "imagePullPolicy": "IfNotPresent",
                                         "command": ["sleep", "600"],
                                         "securityContext": {"allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"]}}}]}}
    cluster("kubectl", "apply", "-f", "-", input=json.dumps(manifest))
    kubectl("wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}", "--timeout=120s", timeout=150)
    return f"pod/{name}"


def eventually(what, want: str, seconds: float = 20) -> tuple[str, float]:
    """what() until it starts with `want` (a new pod's address reaches the policy controller within
    a moment): (the last answer, seconds waited)."""
    t = time.monotonic()
    while True:
        got = what()
        if got.startswith(want) or time.monotonic() - t > seconds:
            return got, time.monotonic() - t
        time.sleep(1)


def test_only_the_site_s_db_clients_reach_mysql(site):
    db = f"db.{SITE}.svc.cluster.local"
    image = site.refs[("db", KUBE_VERSIONS["db"][0])]
    # The apps, from inside their pods.
    for workload in ("deployment/pacs", "statefulset/pacs-singleton", "deployment/view"):
        got, waited = eventually(lambda w=workload: connect(SITE, w, "db", 3306), "ok")
        assert got == "ok", (workload, got)
    # The Jobs: the schema step and the pre-upgrade dump completed (each connected to MySQL).
    jobs = kube_json("get", "jobs", "-n", SITE)["items"]
    assert len(jobs) == 2 and all(j["status"].get("succeeded") == 1 for j in jobs), [j["status"] for j in jobs]
    # A pod in another namespace: refused, while pacs's port answers it (the network works).
    kubectl("create", "namespace", OUTSIDE)
    outsider = client_pod(OUTSIDE, "outsider", image, {"app": "outsider"})
    got, waited = eventually(lambda: connect(OUTSIDE, outsider, f"pacs.{SITE}.svc.cluster.local", 8080), "ok")
    assert got == "ok", got
    t = time.monotonic()
    refused = connect(OUTSIDE, outsider, db, 3306)
    print(f"\n[figures] outsider: pacs:8080 reached after {waited:.1f} s; db:3306 {refused!r} in {time.monotonic() - t:.1f} s")
    assert refused.startswith("refused"), refused
    # A pod of the site's namespace that is not a db client: refused too.
    stranger = client_pod(SITE, "stranger", image, {"app": "stranger"})
    time.sleep(3)  # past the controller's first instant, so a refusal is the policy's
    assert connect(SITE, stranger, "db", 3306).startswith("refused")
    # The same pod, labelled a db client: let in.
    kubectl("label", "-n", SITE, stranger, "o3/db-client=true", "o3.site=" + SITE)
    got, waited = eventually(lambda: connect(SITE, stranger, "db", 3306), "ok")
    print(f"[figures] a pod labelled o3/db-client reached db:3306 {waited:.1f} s after the label")
    assert got == "ok", got
    kubectl("delete", "-n", SITE, stranger, "--wait=false")


def test_the_nightly_dump_template_reaches_mysql_and_writes_its_dump(site):
    """ops.backup runs the dump script in a Job made from the CronJob's template (its labels,
    securityContext, deadline): the dump is written through the NetworkPolicy."""
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "ops.backup", "--stack", SITE, "--dir", str(site.dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    print(f"\n[figures] ops.backup through the policy: exit {out.returncode} in {time.monotonic() - t:.0f} s")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stdout[-2000:] + out.stderr[-2000:]
    assert re.search(r"o3-manual-\S+\.sql\.gz written", out.stdout), out.stdout


def test_pod_security_admits_the_site_and_refuses_a_privileged_pod(site):
    ns = kube_json("get", "namespace", SITE)["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "baseline", ns
    assert ns["pod-security.kubernetes.io/warn"] == "restricted", ns
    running = {}
    for role in ("db", "pacs", "pacs-singleton", "view"):
        ps = pods(SITE, role)
        assert ps and all(p["status"]["phase"] == "Running" for p in ps), role
        spec = ps[0]["spec"]
        assert spec["automountServiceAccountToken"] is False and spec["securityContext"]["seccompProfile"]["type"] == \
            "RuntimeDefault", role
        assert not any(m["mountPath"].startswith("/var/run/secrets/kubernetes.io") for c in spec["containers"]
                       for m in c.get("volumeMounts", [])), role
        # Each container started under its securityContext once, no restart (db's capabilities suffice).
        assert all(c.get("restartCount") == 0 for p in ps for c in p["status"]["containerStatuses"]), \
            (role, [c.get("lastState") for p in ps for c in p["status"]["containerStatuses"]])
        running[role] = len(ps)
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged", "namespace": SITE},
                  "spec": {"containers": [{"name": "c", "image": site.refs[("db", KUBE_VERSIONS["db"][0])],
                                           "command": ["sleep", "60"], "securityContext": {"privileged": True}}]}}
    out = cluster("kubectl", "apply", "-f", "-", input=json.dumps(privileged), check=False)
    print(f"\n[figures] pods running under baseline: {running}; privileged pod: exit {out.returncode}")
    assert out.returncode != 0 and "violates PodSecurity" in out.stderr and "privileged" in out.stderr, out.stderr
    assert "privileged" not in kubectl("get", "pods", "-n", SITE, "-o", "name")
