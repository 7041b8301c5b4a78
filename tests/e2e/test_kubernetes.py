"""A large site on Kubernetes, with the real CLI and providers on the two-node test cluster
(tests/kube/): a fresh `up` with the policy pack, pods on both nodes behind their Services and
exactly one singleton, a pod deleted by hand, a pacs bump probed every 100 ms through the
Service, a db bump with its dump, the drift check after a kubelet restart, and `destroy` keeping
the data for the next `up`. The scenarios run in order on one site."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon import clean, container_names, site_config
from e2e_harness import ROOT, Project, by_type, http_json
from kube_harness import (
    KUBE_VERSIONS,
    ServiceProbe,
    cluster,
    https_get,
    kube_json,
    kube_site,
    kube_stack_config,
    kubectl,
    mysql,
    new_workdir,
    ops_command as kube_ops_command,
    pods,
    service_ip,
    wait_answer,
)
from site_fixtures import PASSWORD

pytestmark = pytest.mark.e2e
SITE = "kube-site"
NS = SITE


@pytest.fixture(scope="module")
def site(pulumi_env, kube_cluster, kube_refs):
    with kube_site(SITE, pulumi_env, kube_cluster, kube_refs, PASSWORD) as project:
        yield project


def _nodes(role: str) -> set[str]:
    return {p["spec"].get("nodeName") for p in pods(NS, role)}


def _images(role: str) -> set[str]:
    return {c["image"] for p in pods(NS, role) for c in p["spec"]["containers"]}


def others_requested_cores() -> float:
    """CPU requested by the running pods of other namespaces (CoreDNS; in CI also the other
    families' sites on the shared cluster), read from kubectl, not from the code under test."""
    total = 0.0
    for p in kube_json("get", "pods", "-A", "--field-selector", "status.phase!=Succeeded,status.phase!=Failed")["items"]:
        if p["metadata"]["namespace"] != NS and p["spec"].get("nodeName"):
            for c in p["spec"]["containers"]:
                cpu = (c.get("resources", {}).get("requests") or {}).get("cpu", "0")
                total += float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return total


def test_a_fresh_up_with_the_pack_runs_every_part_on_both_nodes(site):
    seen = []
    for _ in range(6):  # the other families' sites come and go on the shared cluster: a quiet moment
        before = others_requested_cores()
        code, checks = ops_command("preflight", site)
        free = re.match(r"([0-9.]+) cores allocatable and not requested on 2 ready node\(s\), the site requests 6\.0$",
                        checks.get("cores", {}).get("measured", ""))
        # two nodes of 32, less what other namespaces' pods request (preflight prints one decimal)
        seen.append((free[1] if free else checks.get("cores"), f"{64 - before:.1f}"))
        if free and free[1] == f"{64 - before:.1f}" and others_requested_cores() == before:
            break
        time.sleep(5)
    else:
        raise AssertionError(f"preflight's free cores never matched kubectl's: {seen}")
    assert code == 0 and {n: c["status"] for n, c in checks.items()} == {
        "cluster": "pass", "cores": "pass", "memory": "pass", "largest pod": "pass", "storage class": "pass",
        "namespace": "pass"}, checks
    site.up()
    assert len(pods(NS, "pacs")) == 2 and _nodes("pacs") == {"node1", "node2"}, _nodes("pacs")
    assert len(pods(NS, "view")) == 2 and _nodes("view") == {"node1", "node2"}
    assert len(pods(NS, "pacs-singleton")) == 1 and len(pods(NS, "db")) == 1
    singleton = kube_json("get", "statefulset", "-n", NS, "pacs-singleton")
    env = {e["name"]: e for e in singleton["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["START_PERIODIC_SERVICES"]["value"] == "true" and singleton["spec"]["replicas"] == 1
    # the guide's names through the Services: pacs answers on 8080 and 4568, view on 8181
    pacs = wait_answer(f"http://{service_ip(NS, 'pacs')}:8080/")
    view = wait_answer(f"http://{service_ip(NS, 'view')}:8181/")
    assert pacs["role"] == "pacs" and pacs["version"] == KUBE_VERSIONS["pacs"][0]
    assert view["role"] == "view" and {d["variable"] for d in view["databases"]} == {"NGV_CONNECTION_STRING",
                                                                                      "ULTIMATE_CONNECTION_STRING"}
    assert {"public_pacs", "public_view"} <= set(mysql(NS, "SHOW DATABASES", PASSWORD).split())
    # requests: the pods' sum meets the vendor's minimum for 10 users (6 cores, 12 GB)
    cpu = 0.0
    for role in ("pacs", "view", "pacs-singleton", "db"):
        for p in pods(NS, role):
            q = p["spec"]["containers"][0]["resources"]["requests"]["cpu"]
            cpu += float(q[:-1]) / 1000 if q.endswith("m") else float(q)
    assert cpu >= 6, cpu
    # no secret literal in any pod spec: the connection strings come from the Secret
    spec = kubectl("get", "deployments,statefulsets,jobs,cronjobs,configmaps", "-n", NS, "-o", "yaml")
    assert PASSWORD not in spec
    site.preview("--refresh", "--expect-no-changes")
    code, checks = verify(site)
    # warnings only: a new site has no nightly dump yet, and this one keeps no copy off the cluster
    assert code == 0 and {n: c["status"] for n, c in checks.items() if c["status"] != "pass"} == {
        "backup": "warn", "off-site": "warn"}, checks
    assert {"db", "pacs", "pacs-singleton", "view", "singleton", "schemas", "pacs http", "view http", "pacs 4568",
            "storage"} <= set(checks)


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # how `stack export --show-secrets` marks a secret


def _plain(value):
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return _plain(json.loads(value["plaintext"]))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


SHAPES = ROOT / "tests" / "fixtures" / "kube-site-shapes.json"  # the policy tests' site (tests/test_kube_policy.py)
RANDOM_OUTPUTS = {"b64Std", "b64Url", "dec", "hex", "id"}


def site_shapes(site) -> list[dict]:
    """What the engine holds for the site's custom resources after a real `up` (their outputs, secrets
    shown: policies see them so), for the policy tests at the mock level."""
    state = json.loads(site.pulumi("stack", "export", "--show-secrets", *site.stack_args()).stdout)
    return [{"type": r["type"], "name": r["urn"].rsplit("::", 1)[-1], "outputs": _plain(r.get("outputs", {}))}
            for r in state["deployment"]["resources"]
            if r.get("custom") and not r["type"].startswith("pulumi:providers:")]


def comparable(shapes: list[dict]) -> dict[tuple[str, str], dict]:
    """What the program asked for, per resource: a Kubernetes object's inputs (an autoname's random
    suffix aside), another resource's outputs but its random ones. The cluster's own additions
    (uids, addresses, node ports, status) differ on every run."""
    out = {}
    for s in shapes:
        o = s["outputs"]
        if "__inputs" in o:
            value = copy.deepcopy(o["__inputs"])
            meta = value.get("metadata") or {}
            if (meta.get("annotations") or {}).get("pulumi.com/autonamed") == "true":
                meta["name"] = f"{s['name']}-<autonamed>"
        else:
            value = {k: v for k, v in o.items() if k not in RANDOM_OUTPUTS and not k.startswith("__")}
        out[(s["type"], s["name"])] = value
    return out


def test_the_policy_tests_recorded_shapes_are_what_this_up_made(site):
    """tests/fixtures/kube-site-shapes.json must stay this site's: re-recorded from the real `up`,
    and compared with the committed file (O3_RECORD_KUBE_SHAPES=<path> writes them there)."""
    shapes = site_shapes(site)
    assert shapes, "no resources: this test reads the site test_a_fresh_up... deployed; select both (-k 'fresh_up or shapes')"
    if target := os.environ.get("O3_RECORD_KUBE_SHAPES"):
        Path(target).write_text(json.dumps(shapes, indent=1, sort_keys=True) + "\n")
    want, got = comparable(json.loads(SHAPES.read_text())), comparable(shapes)
    differ = sorted(set(want) ^ set(got)) + sorted(k for k in set(want) & set(got) if want[k] != got[k])
    assert not differ, (f"{SHAPES.relative_to(ROOT)} is out of date for {differ}; refresh it with "
                        f"O3_RECORD_KUBE_SHAPES=$PWD/{SHAPES.relative_to(ROOT)} scripts/test --e2e -k 'fresh_up or shapes' "
                        "and commit it with the change that made the difference")


def ops_command(command: str, site) -> tuple[int, dict[str, dict]]:
    """An ops command (verify, preflight) on the site's stack: (exit code, checks by name)."""
    return kube_ops_command(command, SITE, site.dir)


def verify(site) -> tuple[int, dict[str, dict]]:
    """ops.verify, as CI runs it after each up."""
    return ops_command("verify", site)


def test_a_pacs_pod_deleted_by_hand_leaves_the_service_answering_and_no_drift(site):
    url = f"http://{service_ip(NS, 'pacs')}:8080/"
    victim = pods(NS, "pacs")[0]["metadata"]["name"]
    with ServiceProbe(url) as probe:
        kubectl("delete", "pod", "-n", NS, victim, "--wait=true")
        kubectl("rollout", "status", "-n", NS, "deployment/pacs", "--timeout=180s", timeout=240)
    print(f"\n[figures] pod deleted: {probe.ok} answers, {len(probe.failed)} failed")
    assert probe.ok > 0 and not probe.failed, probe.failed[:5]
    assert len(pods(NS, "pacs")) == 2
    site.preview("--refresh", "--expect-no-changes")
    kubectl("scale", "-n", NS, "statefulset/pacs-singleton", "--replicas=0")
    kubectl("wait", "-n", NS, "--for=delete", "pod", "-l", "app.kubernetes.io/name=pacs-singleton", "--timeout=60s",
            timeout=90)
    code, checks = verify(site)
    failed = {n: c["measured"] for n, c in checks.items() if c["status"] == "fail"}
    assert code == 1 and "0 pacs-singleton pods run" in failed.get("singleton", ""), failed
    site.up()  # the drift is put right
    assert len(pods(NS, "pacs-singleton")) == 1


def test_a_pacs_bump_rolls_the_replicas_without_a_failed_request(site):
    new = site.refs[("pacs", KUBE_VERSIONS["pacs"][1])]
    site.edit(lambda c: c["o3:images"].update(pacs=new))
    replaced = by_type(site.preview_steps())
    url = f"http://{service_ip(NS, 'pacs')}:8080/"
    with ServiceProbe(url) as probe:
        site.up()
        probe.until(KUBE_VERSIONS["pacs"][1])  # and while the old pods drain
    print(f"\n[figures] pacs bump: {probe.ok} answers ({probe.versions}), {len(probe.failed)} failed")
    assert not probe.failed, probe.failed[:5]
    assert probe.recent[-20:] == [KUBE_VERSIONS["pacs"][1]] * 20, "the Service does not answer with the new version"
    assert _images("pacs") == {new} and _images("pacs-singleton") == {new}
    assert len(pods(NS, "pacs-singleton")) == 1
    assert ("kubernetes:apps/v1:StatefulSet", f"{SITE}-db-statefulset") not in replaced.get("update", []), replaced


def test_a_db_bump_takes_a_dump_first(site):
    mysql(NS, "CREATE TABLE IF NOT EXISTS public_pacs.kube_probe (v INT); INSERT INTO public_pacs.kube_probe VALUES (42)",
          PASSWORD)
    new = site.refs[("db", KUBE_VERSIONS["db"][1])]
    site.edit(lambda c: c["o3:images"].update(db=new))
    site.up()
    assert _images("db") == {new}
    dumps = backups(new)
    assert any(n.startswith("o3-backup-") and f"_to_db-{KUBE_VERSIONS['db'][1]}" in n for n in dumps), dumps
    assert mysql(NS, "SELECT v FROM public_pacs.kube_probe", PASSWORD).split() == ["42"]


def test_a_dump_now_and_its_restore_with_the_apps_scaled_down_meanwhile(site):
    out = subprocess.run([sys.executable, "-m", "ops.backup", "--stack", SITE, "--dir", str(site.dir)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    name = re.search(r"(o3-manual-\S+\.sql\.gz) written", out.stdout)[1]
    mysql(NS, "UPDATE public_pacs.kube_probe SET v = 7", PASSWORD)
    out = subprocess.run([sys.executable, "-m", "ops.restore", "--stack", SITE, "--dir", str(site.dir), "--file", name,
                          "--yes"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "scaled pacs, pacs-singleton, view to 0" in out.stdout
    assert mysql(NS, "SELECT v FROM public_pacs.kube_probe", PASSWORD).split() == ["42"]
    assert (len(pods(NS, "pacs")), len(pods(NS, "pacs-singleton")), len(pods(NS, "view"))) == (2, 1, 2)
    wait_answer(f"http://{service_ip(NS, 'pacs')}:8080/")
    # a dump that is not this site's complete dump is refused before anything stops
    out = subprocess.run([sys.executable, "-m", "ops.restore", "--stack", SITE, "--dir", str(site.dir), "--file",
                          "o3-manual-missing.sql.gz", "--yes"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1 and "refused: no file o3-manual-missing.sql.gz" in out.stderr, out.stderr
    site.preview("--refresh", "--expect-no-changes")


def backups(image: str) -> list[str]:
    """The dumps in `backups` on the data volume, listed by a pod that mounts it."""
    overrides = json.dumps({"spec": {"restartPolicy": "Never", "containers": [{
        "name": "o3-ls", "image": image, "command": ["ls", "/backups"],
        "volumeMounts": [{"name": "d", "mountPath": "/backups", "subPath": "backups"}]}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "o3-data"}}]}})
    out = kubectl("run", "-n", NS, "o3-ls", "--rm", "-i", "--restart=Never", "--quiet", f"--image={image}",
                  "--overrides", overrides, timeout=180)
    return out.split()


def test_the_drift_check_is_green_after_a_kubelet_restart(site):
    cluster("restart-kubelet", "node2")
    kubectl("wait", "--for=condition=Ready", "node/node2", "--timeout=120s", timeout=180)
    site.preview("--refresh", "--expect-no-changes")


def test_destroy_keeps_every_data_volume_and_a_new_up_finds_the_data(site):
    kubectl("exec", "-n", NS, "deployment/pacs", "--", "sh", "-c", "echo dicom > /opt/storagePacs/kept.dcm")
    site.destroy()
    claims = {c["metadata"]["name"] for c in kube_json("get", "pvc", "-n", NS)["items"]}
    assert {"o3-data", "db-data"} <= claims, claims
    assert not kube_json("get", "deployments,statefulsets", "-n", NS)["items"]
    site.up()
    assert kubectl("exec", "-n", NS, "deployment/pacs", "--", "cat", "/opt/storagePacs/kept.dcm").strip() == "dicom"
    assert mysql(NS, "SELECT v FROM public_pacs.kube_probe", PASSWORD).split() == ["42"]
    site.preview("--refresh", "--expect-no-changes")



def test_the_same_stack_on_the_docker_platform_deploys_as_today(pulumi_env, kube_cluster, kube_refs, client,
                                                                docker_host, nofile_cap):
    """The Kubernetes site's config, moved to one Docker host: o3:platform docker, the Kubernetes
    keys out and the Docker host's in; the same site and images deploy as the guide's containers."""
    cfg = kube_stack_config("docker-twin", kube_cluster, kube_refs)
    for key in ("o3:platform", "o3:kubernetes", "kubernetes:kubeconfig"):
        cfg.pop(key)
    work = new_workdir("o3-e2e-kube-docker-")
    docker = site_config(str(work / "storage"), docker_host, nofile_cap, name="docker-twin")
    for key in ("o3:host", "o3:ports", "o3:database", "docker:host"):  # the Docker host's own keys
        cfg[key] = docker[key]
    cfg["o3:site"]["storagePath"] = docker["o3:site"]["storagePath"]
    clean(client)
    project = Project(work, "docker-twin", pulumi_env, secrets=[PASSWORD])
    project.init(cfg, {"o3:dbPassword": PASSWORD})
    try:
        project.up()
        assert {"db", "pacs", "pacs-singleton", "view", "o3-maintenance"} <= container_names(client)
        assert http_json(8080)["role"] == "pacs" and http_json(8181)["role"] == "view"
        assert not [r for r in project.resources() if r["type"].startswith("kubernetes:")]
    finally:
        project.destroy(check=False)
        project.remove()
        clean(client)
        shutil.rmtree(work, ignore_errors=True)


def test_https_through_the_same_front_door_and_a_renewal_rolls_only_the_proxy(pulumi_env, kube_cluster, kube_refs,
                                                                                tmp_path):
    from tlsfixtures import TestCA

    name = "kube-tls"
    host = f"o3-proxy.{name}.svc"  # the name the test reaches the front door by (its Service)
    ca = TestCA("O3 Kubernetes e2e CA")
    (tmp_path / "ca.pem").write_text(ca.pem)
    first = ca.issue(host)
    kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", timeout=600)
    cfg = kube_stack_config(name, kube_cluster, kube_refs, publicHost=host)
    cfg["o3:tls"] = {"enabled": True, "certificate": first.cert_pem}
    cfg["o3:images"]["proxy"] = kube_refs[("proxy", KUBE_VERSIONS["proxy"][0])]
    work = new_workdir("o3-e2e-kube-tls-")
    key_line = first.key_pem.split("\n")[1]
    p = Project(work, name, pulumi_env, secrets=[PASSWORD, key_line])
    p.init(cfg, {"o3:dbPassword": PASSWORD, "o3:tlsKey": first.key_pem})
    try:
        p.up()
        proxy = service_ip(name, "o3-proxy")
        headers, view = https_get(proxy, 443, host, str(tmp_path / "ca.pem"))
        assert view["role"] == "view" and "max-age" in headers.get("Strict-Transport-Security", "")
        assert https_get(proxy, 8443, host, str(tmp_path / "ca.pem"))[1]["role"] == "pacs"
        public = {s["metadata"]["name"]: s["spec"] for s in kube_json("get", "services", "-n", name)["items"]
                  if s["spec"]["type"] in ("NodePort", "LoadBalancer")}
        assert set(public) == {"o3-proxy", "pacs-public"}
        assert [port["port"] for port in public["pacs-public"]["ports"]] == [4568]
        assert key_line not in kubectl("get", "deployments,configmaps", "-n", name, "-o", "yaml")
        # a renewal: only the TLS Secret and the proxy change; the apps' pods stay
        before = {pod["metadata"]["uid"] for role in ("pacs", "view", "db") for pod in pods(name, role)}
        second = ca.issue(host)
        p.secrets.append(second.key_pem.split("\n")[1])
        p.edit(lambda c: c["o3:tls"].update(certificate=second.cert_pem))
        p.pulumi("config", "set", "--secret", "o3:tlsKey", "--stack", name, input=second.key_pem)
        changed = {n for ops in by_type(p.preview_steps()).values() for _, n in ops}
        assert changed == {f"{name}-proxy-tls", f"{name}-proxy-deployment"}, changed
        p.up()
        assert {pod["metadata"]["uid"] for role in ("pacs", "view", "db") for pod in pods(name, role)} == before
        served = https_get(proxy, 443, host, str(tmp_path / "ca.pem"))
        assert served[1]["role"] == "view"
    finally:
        p.destroy(check=False)
        p.remove()
        kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", check=False, timeout=600)
        shutil.rmtree(work, ignore_errors=True)
