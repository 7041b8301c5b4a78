"""A Kubernetes site through a hospital's bad day, on the two-node test cluster with the real CLI
and providers: a pod of the singleton deleted and its StatefulSet restarted, a drain, a hung
kubelet, a node without db powered off after a bump, and db's node powered off and fenced.

Each scenario reads the ground truth: the `pacs-singleton` containers that each node's containerd
runs, sampled in a thread throughout (ContainerCensus), never the API's pod list alone; and a
probe through the Services of pacs and view every 100 ms. Only node2 loses its power or its
network (tests/kube/cluster.sh): each scenario first puts on node2 what it is about (by cordon and
delete, deterministically). Every test breaks nodes, so each takes the whole cluster."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from e2e_harness import ROOT
from kube_harness import (
    KUBE_VERSIONS,
    ContainerCensus,
    ServiceProbe,
    cluster,
    kube_json,
    kube_site,
    kubectl,
    mysql,
    ops_command,
    pods,
    service_ip,
    wait_answer,
)
from site_fixtures import PASSWORD

pytestmark = pytest.mark.e2e
SITE = NS = "kube-faults"
NODE_LOSS = 30  # o3:kubernetes.nodeLossSeconds of this site (the default is 60): the scenarios wait for it
SINGLETON = "pacs-singleton"


@pytest.fixture(scope="module")
def site(pulumi_env, kube_cluster, kube_refs):
    with kube_site(SITE, pulumi_env, kube_cluster, kube_refs, PASSWORD, nodeLossSeconds=NODE_LOSS) as project:
        project.up()
        try:
            yield project
        finally:  # whatever a failed scenario left broken
            for fix in (("restore-network", "node2"), ("resume-kubelet", "node1"), ("resume-kubelet", "node2"),
                        ("poweron", "node2")):
                cluster(*fix, check=False)
            kubectl("taint", "nodes", "node2", "node.kubernetes.io/out-of-service-", check=False)
            kubectl("uncordon", "node1", "node2", check=False)


def probes() -> tuple[ServiceProbe, ServiceProbe]:
    return (ServiceProbe(f"http://{service_ip(NS, 'pacs')}:8080/"), ServiceProbe(f"http://{service_ip(NS, 'view')}:8181/"))


def wait(what: str, condition, timeout: float = 300, pause: float = 1) -> float:
    """Wait until `condition()` holds; the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout:.0f} s: {what}"
        time.sleep(pause)
    return time.monotonic() - start


def ready_pods(role: str) -> list[dict]:
    return [p for p in pods(NS, role) if p["status"].get("phase") == "Running"
            and all(c.get("ready") for c in p["status"].get("containerStatuses", [{}]))]


def nodes_of(role: str) -> list[str]:
    return sorted(p["spec"].get("nodeName", "") for p in ready_pods(role))


WORKLOADS = (("deployment", "pacs"), ("deployment", "view"), ("statefulset", SINGLETON), ("statefulset", "db"))


def full_strength(workloads=WORKLOADS) -> bool:
    for kind, name in workloads:
        w = kube_json("get", kind, "-n", NS, name)
        if (w["status"].get("readyReplicas") or 0) != w["spec"]["replicas"] or len(ready_pods(name)) != w["spec"]["replicas"]:
            return False
    return True


def node_ready(node: str) -> bool:
    conds = kube_json("get", "node", node)["status"]["conditions"]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def move_to(node: str, role: str) -> None:
    """Put the role's one pod (db, the singleton) on `node`: cordon the other node, delete the pod."""
    if nodes_of(role) == [node]:
        return
    other = "node1" if node == "node2" else "node2"
    kubectl("cordon", other)
    try:
        kubectl("delete", "pod", "-n", NS, "-l", f"app.kubernetes.io/name={role}", "--wait=true", timeout=180)
        wait(f"{role} on {node}", lambda: nodes_of(role) == [node], 240)
    finally:
        kubectl("uncordon", other)


def respread() -> None:
    """A rollout of pacs and view (as after a node's return): their replicas one per node again."""
    for name in ("pacs", "view"):
        kubectl("rollout", "restart", "-n", NS, f"deployment/{name}")
        kubectl("rollout", "status", "-n", NS, f"deployment/{name}", "--timeout=300s", timeout=360)
    wait("pacs and view spread", lambda: nodes_of("pacs") == ["node1", "node2"] and nodes_of("view") == ["node1", "node2"],
         120)


def report(what: str, census: ContainerCensus, *probed: ServiceProbe) -> None:
    answers = ", ".join(f"{name} {p.ok} answers / {len(p.failed)} failed" for name, p in zip(("pacs", "view"), probed))
    print(f"\n[figures] {what}: at most {census.most} {SINGLETON} container(s) running at once "
          f"({len(census.samples)} samples of both nodes' containerd){'; ' + answers if answers else ''}")
    assert not census.errors, census.errors[:3]
    assert census.samples, "the census took no sample"


def test_a_deleted_singleton_pod_and_a_restart_never_run_two(site, kube_whole_cluster):
    assert ContainerCensus(NS, SINGLETON).now() in ({"node1": 1, "node2": 0}, {"node1": 0, "node2": 1})
    with ContainerCensus(NS, SINGLETON) as census:
        old = pods(NS, SINGLETON)[0]["metadata"]["uid"]
        start = time.monotonic()
        kubectl("delete", "pod", "-n", NS, f"{SINGLETON}-0", "--wait=false")
        wait("a new singleton", lambda: [p["metadata"]["uid"] for p in ready_pods(SINGLETON)] not in ([], [old]), 240)
        deleted = time.monotonic() - start
        start = time.monotonic()
        kubectl("rollout", "restart", "-n", NS, f"statefulset/{SINGLETON}")
        kubectl("rollout", "status", "-n", NS, f"statefulset/{SINGLETON}", "--timeout=240s", timeout=300)
        restarted = time.monotonic() - start
        wait("one singleton running", lambda: sum(census.now().values()) == 1, 60)
    report("singleton pod deleted and restarted", census)
    print(f"[figures] singleton replaced after `kubectl delete pod` in {deleted:.1f} s, after `rollout restart` in "
          f"{restarted:.1f} s")
    assert census.most == 1, census.samples[-20:]
    assert sum(census.now().values()) == 1


def test_a_drain_fails_no_request_and_never_runs_two_singletons(site, kube_whole_cluster):
    victim = nodes_of(SINGLETON)[0]
    pacs, view = probes()
    with ContainerCensus(NS, SINGLETON) as census, pacs, view:
        time.sleep(2)
        start = time.monotonic()
        kubectl("drain", victim, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s", timeout=660)
        drained = time.monotonic() - start
        kubectl("uncordon", victim)
        strength = wait("full strength", full_strength, 300) + drained
        time.sleep(2)
    report(f"drain of {victim}", census, pacs, view)
    print(f"[figures] drain of {victim}: {drained:.1f} s; full strength again after {strength:.1f} s; db now on "
          f"{nodes_of('db')}, the singleton on {nodes_of(SINGLETON)}")
    assert pacs.ok and view.ok and not pacs.failed and not view.failed, (pacs.failed[:5], view.failed[:5])
    assert census.most == 1, census.samples[-20:]
    respread()  # everything is on one node now: a rollout spreads them again


def test_a_hung_kubelet_never_runs_two_singletons(site, kube_whole_cluster):
    # db there too: ops.verify must answer while a command to db would wait on the hung kubelet
    move_to("node2", "db")
    move_to("node2", SINGLETON)
    with ContainerCensus(NS, SINGLETON) as census:
        start = time.monotonic()
        cluster("hang-kubelet", "node2")
        try:
            # node2 not ready, then the singleton's pod evicted after the toleration: Terminating,
            # and its container still runs there; the StatefulSet starts no other.
            notready = wait("node2 not ready", lambda: not node_ready("node2"), 180, 2)
            evicted = wait("the singleton's pod evicted",
                           lambda: any(p["metadata"].get("deletionTimestamp") for p in kube_json(
                               "get", "pods", "-n", NS, "-l", f"app.kubernetes.io/name={SINGLETON}")["items"]),
                           NODE_LOSS + 120, 2) + notready
            time.sleep(20)  # longer than the toleration, by a margin: still the old one only
            during = census.now()
            code, checks = ops_command("verify", SITE, site.dir)
        finally:
            cluster("resume-kubelet", "node2")
        back = wait("one singleton running and ready", lambda: len(ready_pods(SINGLETON)) == 1
                    and sum(census.now().values()) == 1, 300)
        total = time.monotonic() - start
    report("kubelet of the singleton's node hung", census)
    print(f"[figures] hung kubelet: node2 not ready after {notready:.0f} s, the singleton's pod evicted after "
          f"{evicted:.0f} s, {during} containers while hung; one singleton again {back:.0f} s after the kubelet "
          f"resumed ({total:.0f} s in all); ops.verify meanwhile: singleton {checks['singleton']['measured']}")
    assert during == {"node1": 0, "node2": 1}, during
    assert code != 0 and checks["schemas"]["status"] == "fail" and checks["schemas"]["measured"] == "no ready db pod", \
        checks["schemas"]
    assert census.most == 1, census.samples[-20:]
    assert sum(census.now().values()) == 1
    wait("full strength", full_strength, 300)
    respread()


def test_after_a_bump_a_node_without_db_powered_off_leaves_pacs_and_view_answering(site, kube_whole_cluster):
    new = site.refs[("pacs", KUBE_VERSIONS["pacs"][1])]
    site.edit(lambda c: c["o3:images"].update(pacs=new))
    site.up()
    assert nodes_of("pacs") == ["node1", "node2"] and nodes_of("view") == ["node1", "node2"], \
        ("a rollout left the replicas on one node", nodes_of("pacs"), nodes_of("view"))
    move_to("node1", "db")
    move_to("node1", SINGLETON)  # node2 holds replicas only: what comes back by itself
    pacs, view = probes()
    with ContainerCensus(NS, SINGLETON) as census, pacs, view:
        time.sleep(2)
        start, before = time.monotonic(), (pacs.ok, view.ok)
        cluster("poweroff", "node2")
        try:
            notready = wait("node2 not ready", lambda: not node_ready("node2"), 180, 1)
            during = (pacs.ok - before[0], view.ok - before[1])
            wait("pacs and view at full strength on node1", lambda: full_strength(WORKLOADS[:2]), NODE_LOSS + 300, 2)
            strength = time.monotonic() - start
            after = (pacs.ok - before[0] - during[0], view.ok - before[1] - during[1])
            time.sleep(3)
        finally:
            cluster("poweron", "node2")
    report("node2 (without db) powered off after a bump", census, pacs, view)
    longest = {"pacs": pacs.longest_run, "view": view.longest_run}
    print(f"[figures] node2 off: not ready after {notready:.0f} s, pacs and view at full strength on node1 after "
          f"{strength:.0f} s (toleration {NODE_LOSS} s); answers until node2 was declared not ready: pacs {during[0]}, "
          f"view {during[1]}; then until full strength: pacs {after[0]}, view {after[1]}; longest run of failed "
          f"requests: {longest}")
    # pacs answers throughout (no client affinity: the surviving replica takes every other request);
    # view after the node is declared lost (a client kept on the lost node's replica waits until then)
    assert during[0] > 0 and after[0] > 0, "pacs stopped answering while node2 was off"
    assert after[1] > 0, "view did not answer once node2 was declared lost"
    assert census.most == 1, census.samples[-20:]
    wait("node2 ready", lambda: node_ready("node2"), 180)
    respread()


def test_dbs_node_powered_off_is_fenced_and_nothing_is_lost(site, kube_whole_cluster):
    move_to("node2", "db")
    move_to("node2", SINGLETON)
    mysql(NS, "CREATE TABLE IF NOT EXISTS public_pacs.fence_probe (v INT); INSERT INTO public_pacs.fence_probe VALUES (7)",
          PASSWORD)
    kubectl("exec", "-n", NS, "deployment/pacs", "--", "sh", "-c", "echo fenced > /opt/storagePacs/fence-probe.txt")
    with ContainerCensus(NS, SINGLETON) as census:
        start = time.monotonic()
        cluster("poweroff", "node2")
        try:
            wait("node2 not ready", lambda: not node_ready("node2"), 180, 1)
            notready = time.monotonic() - start
            out = cluster_fence(site)
            recovered = time.monotonic() - start
        finally:
            cluster("poweron", "node2")
            kubectl("taint", "nodes", "node2", "node.kubernetes.io/out-of-service-", check=False)
    report("db's node powered off and fenced", census)
    print(f"[figures] db's node off: not ready after {notready:.0f} s; ops.fence: {out.strip().splitlines()[-2]}; "
          f"site verified {recovered:.0f} s after the power went")
    assert nodes_of("db") == ["node1"] and nodes_of(SINGLETON) == ["node1"]
    assert mysql(NS, "SELECT v FROM public_pacs.fence_probe", PASSWORD).split() == ["7"]
    assert kubectl("exec", "-n", NS, "deployment/pacs", "--", "cat", "/opt/storagePacs/fence-probe.txt").strip() == "fenced"
    assert census.most == 1, census.samples[-20:]
    wait("node2 ready", lambda: node_ready("node2"), 180)
    wait_answer(f"http://{service_ip(NS, 'pacs')}:8080/")


def cluster_fence(site) -> str:
    """ops.fence as the operator runs it: refused on a Ready node, then on node2 (powered off)."""
    refused = subprocess.run([sys.executable, "-m", "ops.fence", "node1", "--stack", SITE, "--dir", str(site.dir), "--yes"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "node node1 is Ready: fence only a node that is powered off" in refused.stderr, \
        refused.stdout + refused.stderr
    out = subprocess.run([sys.executable, "-m", "ops.fence", "node2", "--stack", SITE, "--dir", str(site.dir), "--yes"],
                         cwd=ROOT, capture_output=True, text=True, timeout=1000)
    assert out.returncode == 0 and "recovered in" in out.stdout, out.stdout + out.stderr
    return out.stdout
