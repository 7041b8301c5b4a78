"""ops.fence: it fences only a node that is not Ready, after the operator confirms it is powered off,
and then waits for db and the singleton to run elsewhere and for ops.verify to be green. Its
refusals, on a fake cluster API (the e2e fault scenarios fence a real node)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
from kubernetes.client.exceptions import ApiException

from ops import fence
from ops._checks import FAIL, PASS, Check
from ops._cli import OpsError
from site_fixtures import BASE
from sitespec.stackfile import validate

ROOT = Path(__file__).resolve().parent.parent


def kube_cfg():
    return validate({"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
                     "o3:site": {"name": "big-site", "timezone": "Europe/Rome", "concurrentUsers": 10, "examsPerDay": 100},
                     "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500}}, set())


def pod(name, node_name):
    return NS(metadata=NS(name=name, deletion_timestamp=None), spec=NS(node_name=node_name), status=NS(phase="Running"))


def node(name, ready):
    cond = NS(type="Ready", status="True" if ready else "Unknown")
    return NS(metadata=NS(name=name), status=NS(conditions=[cond]), spec=NS(taints=None))


def ready_pod(name, node_name):
    p = pod(name, node_name)
    p.status.container_statuses = [NS(ready=True)]
    return p


class FakeCluster:
    """The parts of DeployedKubeSite that ops.fence reads and writes."""

    namespace = "big-site"

    def __init__(self, ready=False):
        self.cfg = kube_cfg()
        self.nodes = {"node1": node("node1", True), "node2": node("node2", ready)}
        self.patched: list = []
        self.running = {"db": [ready_pod("db-0", "node2")], "pacs-singleton": [ready_pod("pacs-singleton-0", "node2")]}
        self.core = NS(read_node=self.read_node, list_node=lambda: NS(items=list(self.nodes.values())),
                       list_namespaced_pod=lambda ns, field_selector: NS(items=[
                           p for ps in self.running.values() for p in ps if f"={p.spec.node_name}" in field_selector]),
                       patch_node=self.patch_node)

    def read_node(self, name):
        if name not in self.nodes:
            raise ApiException(status=404, reason="Not Found")
        return self.nodes[name]

    def patch_node(self, name, body):
        self.patched.append((name, body))
        # what Kubernetes does then: the node's pods deleted, started on the other node
        self.running = {r: [ready_pod(p.metadata.name, "node1") for p in ps] for r, ps in self.running.items()}

    def pods(self, role, terminating=False):
        return self.running.get(role, [])


def green():
    return [Check("singleton", PASS, "one")]


def test_a_ready_node_is_refused_and_nothing_is_tainted():
    site = FakeCluster(ready=True)
    with pytest.raises(OpsError, match="node node2 is Ready: fence only a node that is powered off"):
        fence.fence(site, "node2", True, 10, green)
    assert site.patched == []


def test_an_unknown_node_is_named_with_the_clusters_nodes():
    site = FakeCluster()
    with pytest.raises(OpsError, match=r"no node node3 in the cluster \(its nodes: node1, node2\)"):
        fence.fence(site, "node3", True, 10, green)
    assert site.patched == []


def test_without_a_terminal_or_yes_it_asks_and_does_nothing(monkeypatch):
    monkeypatch.setattr(sys, "stdin", NS(isatty=lambda: False))
    site = FakeCluster()
    with pytest.raises(OpsError, match="needs a confirmation that the node is powered off"):
        fence.fence(site, "node2", False, 10, green)
    assert site.patched == []


def test_a_wrong_answer_taints_nothing(capsys):
    site = FakeCluster()
    asked = []
    code = fence.fence(site, "node2", False, 10, green, ask=lambda n, pods: asked.append((n, pods)) or False)
    assert code == 1 and site.patched == [] and asked == [("node2", ["db-0", "pacs-singleton-0"])]
    assert "nothing done" in capsys.readouterr().out


def test_a_confirmed_lost_node_is_tainted_out_of_service_and_waited_for(capsys):
    site = FakeCluster()
    assert fence.fence(site, "node2", True, 10, green) == 0
    assert site.patched == [("node2", {"spec": {"taints": [
        {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}]}})]
    out = capsys.readouterr().out
    assert "recovered in" in out and "pacs-singleton on node1, db on node1; ops.verify green" in out
    assert "kubectl taint nodes node2 node.kubernetes.io/out-of-service-" in out


def test_a_site_that_stays_red_is_a_failure_naming_the_check(monkeypatch, capsys):
    monkeypatch.setattr(fence, "POLL", 0.01)
    site = FakeCluster()
    code = fence.fence(site, "node2", True, 0.1, lambda: [Check("pacs http", FAIL, "Service pacs:8080 does not answer")])
    assert code == 1
    assert "did not recover within 0 s (pacs http: Service pacs:8080 does not answer)" in capsys.readouterr().err


def test_a_docker_stack_is_refused_in_one_line(fleet_dir):
    out = subprocess.run([sys.executable, "-m", "ops.fence", "node2", "--stack", "st-marys", "--yes", "--dir",
                          str(fleet_dir)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    assert out.returncode == 2 and text.strip() == ("fence: site st-marys runs on docker (o3:platform): fencing is for "
                                                    "a node of a Kubernetes site"), text
