"""The policy pack on a Kubernetes site, at the cheapest level: the resources a real `pulumi up` of
the e2e Kubernetes site left in the engine (tests/fixtures/kube-site-shapes.json: their outputs,
as the engine hands them to the pack; the e2e run fails when they differ from a real `up`, and
`O3_RECORD_KUBE_SHAPES=<that file> scripts/test --e2e -k 'fresh_up or shapes'` re-records them)
pass every rule; each test then breaks one thing the way a hand-written stack could, and the rule
that must refuse it does."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from policy_harness import analyze, by_policy, resource
from site_fixtures import PASSWORD

SHAPES = Path(__file__).resolve().parent / "fixtures" / "kube-site-shapes.json"


def recorded() -> list[dict[str, Any]]:
    return json.loads(SHAPES.read_text())


def run(shapes: list[dict[str, Any]]):
    return by_policy(analyze([resource(s["type"], s["name"], s["outputs"]) for s in shapes]))


def named(shapes, kind: str, name: str) -> dict[str, Any]:
    (found,) = [s for s in shapes if s["type"] == kind and s["outputs"].get("metadata", {}).get("name") == name]
    return found


DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def test_the_recorded_site_passes_every_rule():
    shapes = recorded()
    assert {s["type"] for s in shapes} >= {DEPLOYMENT, "kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:Secret",
                                          "random:index/randomId:RandomId"}
    data = named(shapes, "kubernetes:core/v1:Secret", "o3-db")["outputs"]["data"]
    assert base64.b64decode(data["password"]).decode() == PASSWORD, "the engine shows secrets to policies, decoded"
    assert run(shapes) == {}


def _container(shape) -> dict:
    return shape["outputs"]["spec"]["template"]["spec"]["containers"][0]


def lower_requests(shapes):
    for s in shapes:
        if s["type"] in (DEPLOYMENT, "kubernetes:apps/v1:StatefulSet"):
            _container(s)["resources"]["requests"]["cpu"] = "100m"


def singleton_shape(shapes) -> dict[str, Any]:
    (found,) = [s for s in shapes if s["type"] in (DEPLOYMENT, "kubernetes:apps/v1:StatefulSet")
                and s["outputs"].get("metadata", {}).get("name") == "pacs-singleton"]
    return found


def second_singleton(shapes):
    twin = copy.deepcopy(singleton_shape(shapes))
    twin["name"] += "-2"
    shapes.append(twin)


def rolling_singleton(shapes):
    # the singleton as a Deployment that rolls with a surge (the program's is a StatefulSet of one)
    single = singleton_shape(shapes)
    single["type"] = DEPLOYMENT
    single["outputs"]["spec"]["strategy"] = {"type": "RollingUpdate"}


def literal_connection_string(shapes):
    env = _container(named(shapes, DEPLOYMENT, "view"))["env"]
    for e in env:
        if e["name"] == "NGV_CONNECTION_STRING":
            e.pop("valueFrom")
            e["value"] = f"driverClassName=com.mysql.cj.jdbc.Driver;jdbcUrl=jdbc:mysql://db:3306/public_view;username=root;password={PASSWORD}"


def password_in_a_config_map(shapes):
    named(shapes, "kubernetes:core/v1:ConfigMap", "o3-scripts")["outputs"]["data"]["extra.sh"] = f"MYSQL_PWD={PASSWORD}"


def public_mysql(shapes):
    named(shapes, "kubernetes:core/v1:Service", "db")["outputs"]["spec"]["type"] = "NodePort"


def storage_on_empty_dir(shapes):
    pod = named(shapes, DEPLOYMENT, "pacs")["outputs"]["spec"]["template"]["spec"]
    pod["volumes"] = [{"name": "o3-data", "emptyDir": {}}]


def latest_image(shapes):
    c = _container(named(shapes, DEPLOYMENT, "view"))
    c["image"] = c["image"].rsplit(":", 1)[0] + ":latest"


def small_volume(shapes):
    named(shapes, "kubernetes:core/v1:PersistentVolumeClaim", "o3-data")["outputs"]["spec"]["resources"]["requests"]["storage"] = "20Gi"


@pytest.mark.parametrize("change, rule, words", [
    (lower_requests, "o3-sizing-cores", "the pods request 0.6 cores, 6 cores required"),
    (second_singleton, "o3-periodic-singleton", "expected exactly one workload 'pacs-singleton', found 2"),
    (rolling_singleton, "o3-periodic-singleton", "a rollout would run two at once"),
    (literal_connection_string, "o3-no-plaintext-secrets", "NGV_CONNECTION_STRING is a literal in the pod spec"),
    (password_in_a_config_map, "o3-no-plaintext-secrets", "holds a password or key in plain text"),
    (public_mysql, "o3-mysql-port-private", "Service 'db' (NodePort) serves MySQL port 3306 to the network"),
    (storage_on_empty_dir, "o3-data-survives-deletion", "/opt/storagePacs is on a emptyDir volume"),
    (latest_image, "o3-pinned-images", "latest"),
    (small_volume, "o3-sizing-storage", "the data volume o3-data has 20 GB storage, 50 GB storage required"),
], ids=lambda v: v.__name__ if callable(v) else None)
def test_each_rule_refuses_its_break(change: Callable, rule: str, words: str):
    shapes = recorded()
    change(shapes)
    found = run(shapes)
    assert rule in found, found
    assert any(words in v.message for v in found[rule]), [v.message for v in found[rule]]
    assert set(found) == {rule}, f"only {rule} should object: {sorted(found)}"


def test_beside_the_front_door_no_public_service_serves_plain_http():
    """o3-tls-no-plain-ports on what the program registers for a Kubernetes site with o3:tls (mock
    engine: the recorded site has no front door)."""
    from engine import evaluate
    from site_fixtures import BASE
    from tlsfixtures import SITE_CA, SITE_HOST

    issued = SITE_CA.issue(SITE_HOST)
    cfg = {"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
           "o3:site": {"name": "tls-site", "timezone": "Europe/Rome", "concurrentUsers": 10, "examsPerDay": 20,
                       "publicHost": SITE_HOST},
           "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 100}, "o3:dbPassword": PASSWORD,
           "o3:tls": {"enabled": True, "certificate": issued.cert_pem}, "o3:tlsKey": issued.key_pem}
    resources = evaluate(cfg, {"o3:dbPassword", "o3:tlsKey"}).resources
    assert "o3-tls-no-plain-ports" not in by_policy(analyze(resources))
    view = resource("kubernetes:core/v1:Service", "view-public", {
        "metadata": {"name": "view-public"},
        "spec": {"type": "NodePort", "ports": [{"port": 8181, "targetPort": 8181}]}})
    found = by_policy(analyze([*resources, view]))
    (v,) = found["o3-tls-no-plain-ports"]
    assert "Service 'view-public' (NodePort) serves plain HTTP port 8181" in v.message


# --- quantities: read by sitespec.quantity, an unreadable one named ----------------------------

def request(shapes, name: str, key: str, value) -> None:
    _container(named(shapes, DEPLOYMENT, name))["resources"]["requests"][key] = value


@pytest.mark.parametrize("change, rule, words", [
    (lambda s: request(s, "pacs", "cpu", "lots"), "o3-sizing-cores", "workload 'pacs' requests cpu 'lots' is not a Kubernetes quantity"),
    (lambda s: request(s, "view", "memory", "2 GiB"), "o3-sizing-memory", "workload 'view' requests memory '2 GiB' is not a Kubernetes quantity"),
    (lambda s: named(s, "kubernetes:core/v1:PersistentVolumeClaim", "o3-data")["outputs"]["spec"]["resources"]["requests"].update(storage="fifty"),
     "o3-sizing-storage", "PersistentVolumeClaim 'o3-data' requests storage 'fifty' is not a Kubernetes quantity"),
], ids=["cpu", "memory", "storage"])
def test_an_unreadable_quantity_is_a_violation_naming_the_resource_and_value(change, rule, words):
    """Before, such a request counted as 0 without a word; now the site's size cannot be proven,
    and the rule that needs the figure says which value it could not read."""
    shapes = recorded()
    change(shapes)
    found = run(shapes)
    assert set(found) == {rule}, found
    (v,) = found[rule]
    assert words in v.message and "cannot be checked" in v.message and v.level == "mandatory", v.message


def test_requests_in_any_quantity_form_count_the_same():
    # 1200m == 1.2 == "1.2"; 2458Mi in bytes, and in decimal G, are the same memory to the table.
    shapes = recorded()
    request(shapes, "pacs", "cpu", 1.2)
    request(shapes, "view", "cpu", "0.9")
    request(shapes, "pacs", "memory", str(2458 * 2**20))
    assert run(shapes) == {}
    request(shapes, "view", "cpu", "899m")  # 2 x 1 millicore short of the table's 6 cores
    assert "the pods request 5.998 cores, 6 cores required" in run(shapes)["o3-sizing-cores"][0].message


# --- the adapter: the facts the rules read -----------------------------------------------------

def engine_view(shapes):
    """The shapes as pulumi-policy hands them to a rule (the adapter reads only these attributes)."""
    from types import SimpleNamespace

    return [SimpleNamespace(resource_type=s["type"], props=s["outputs"], name=s["name"], opts=None,
                            urn=f"urn:pulumi:test::o3::{s['type']}::{s['name']}") for s in shapes]


def test_the_adapter_reads_the_size_the_program_planned():
    from policy.platforms import extract
    from sitespec import sizing

    facts = extract(engine_view(recorded()))
    record = facts.record
    plan = sizing.kube_plan(sizing.requirements(record.concurrent_users), record.concurrent_users)
    assert facts.capacity["cpuCores"].value == pytest.approx(plan.total_cores)
    assert facts.capacity["memoryGb"].value == pytest.approx(plan.total_memory_gb, abs=0.01)
    assert facts.capacity["storageGb"].value == 50 and "networkMbps" not in facts.capacity
    singleton = next(w for w in facts.workloads if w.name == "pacs-singleton")
    assert singleton.running and singleton.replicas == 1 and singleton.overlapping_rollout is None
    assert singleton.containers[0].env["START_PERIODIC_SERVICES"] == "true"
    assert facts.db_image is not None and "/mysql:8.0" in facts.db_image.ref
    assert facts.published and all(p.scope == "everywhere" for p in facts.published)  # the NodePorts only


def test_the_takeover_of_a_deployment_singleton_is_one_singleton():
    # A site of an earlier release: the engine shows its Deployment pacs-singleton (deleted first)
    # beside the StatefulSet that replaces it under the same name (an alias): one singleton.
    shapes = recorded()
    old = copy.deepcopy(singleton_shape(shapes))
    old["type"] = DEPLOYMENT
    old["outputs"]["spec"]["strategy"] = {"type": "Recreate"}
    assert singleton_shape(shapes)["type"] == "kubernetes:apps/v1:StatefulSet"
    assert run(shapes + [old]) == {}
    other = copy.deepcopy(old)
    other["name"] += "-2"  # a Deployment of another name is a second singleton
    assert "o3-periodic-singleton" in run(shapes + [other])
