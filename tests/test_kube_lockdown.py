"""A Kubernetes site's namespace is locked down (issue 27 §3; components/kubernetes/hardening.py),
checked on what the program registers (mock engine): the Pod Security labels, every pod's
securityContext and no API token, the Jobs' deadlines and requests, the NetworkPolicies; and the
pack's rules for each of these refuse a site that lacks it, and only that rule objects."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from components.kubernetes.hardening import CAPABILITIES, DB_CLIENT, policy_specs
from engine import evaluate
from policy_harness import analyze, by_policy
from site_fixtures import BASE, PASSWORD

NEW_RULES = {"o3-no-privilege-escalation", "o3-capabilities-dropped", "o3-seccomp-runtime-default",
             "o3-no-api-token", "o3-jobs-bounded", "o3-network-isolation"}
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job",
             "kubernetes:batch/v1:CronJob")
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def site(**kube: Any) -> list:
    cfg = {"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
           "o3:site": {"name": "locked", "timezone": "Europe/Rome", "concurrentUsers": 10, "examsPerDay": 20},
           "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 100, **kube}, "o3:dbPassword": PASSWORD}
    return evaluate(cfg, {"o3:dbPassword"}).resources


def pod(r) -> tuple[dict, dict]:
    """(the pod template's metadata, its spec) of a workload."""
    spec = r.inputs["spec"]
    if r.type.endswith("CronJob"):
        spec = spec["jobTemplate"]["spec"]
    return spec["template"].get("metadata", {}), spec["template"]["spec"]


def workloads(resources) -> dict[str, Any]:
    return {r.inputs.get("metadata", {}).get("name") or r.name: r for r in resources if r.type in WORKLOADS}


def test_every_pod_is_confined_and_gets_no_api_token():
    found = workloads(site())
    assert len(found) >= 7, sorted(found)  # db, pacs, pacs-singleton, view, the two Jobs, the CronJob
    for name, r in found.items():
        _, spec = pod(r)
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], name
            assert sc["capabilities"].get("add", []) == list(CAPABILITIES.get(c["name"], ())), (name, c["name"])
    assert list(CAPABILITIES) == ["db", "o3-proxy", "restic"]  # the apps and the Jobs run with none


def test_the_namespace_enforces_baseline_and_warns_restricted():
    (ns,) = [r for r in site() if r.type == "kubernetes:core/v1:Namespace"]
    labels = ns.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_jobs_have_deadlines_and_requests_and_db_clients_are_labelled():
    found = workloads(site())
    jobs = {n: r for n, r in found.items() if "Job" in r.type}
    assert len(jobs) == 3, sorted(jobs)
    for name, r in jobs.items():
        spec = r.inputs["spec"]["jobTemplate"]["spec"] if r.type.endswith("CronJob") else r.inputs["spec"]
        assert 0 < spec["activeDeadlineSeconds"] < 24 * 3600, name  # a hung nightly run ends before the next night
        assert all(c["resources"]["requests"] for c in pod(r)[1]["containers"]), name
    cron = found["o3-maintenance"].inputs["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    clients = sorted(n for n, r in found.items() if pod(r)[0].get("labels", {}).get(DB_CLIENT) == "true")
    assert clients == sorted(n for n in found if n != "db"), clients  # every pod but MySQL's own


def test_network_policies_deny_by_default_and_open_only_what_the_site_needs():
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in site() if r.type == NETWORK_POLICY}
    assert policies == policy_specs("locked", None, False)
    deny = policies["o3-default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (db_in,) = policies["o3-db"]["ingress"]
    assert db_in["from"] == [{"podSelector": {"matchLabels": {DB_CLIENT: "true", "o3.site": "locked"}}}]
    assert db_in["ports"] == [{"port": 3306, "protocol": "TCP"}]
    assert policies["o3-pacs"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}, {"port": 4568, "protocol": "TCP"}]}]
    assert "ingress" not in policies["o3-pacs-singleton"]  # nothing reaches it
    assert "o3-o3-proxy" not in policies  # no front door without o3:tls


def test_an_external_mysql_is_reached_by_address_or_by_port():
    by_ip = policy_specs("s", ("10.1.2.3", 3307), False)
    assert "o3-db" not in by_ip
    assert by_ip["o3-db-clients"]["egress"] == [{"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}],
                                                 "ports": [{"port": 3307, "protocol": "TCP"}]}]
    by_name = policy_specs("s", ("mysql.hospital.example", 3306), True)
    assert by_name["o3-db-clients"]["egress"] == [{"ports": [{"port": 3306, "protocol": "TCP"}]}]
    assert [r["ports"] for r in by_name["o3-o3-proxy"]["egress"]] == [[{"port": 8080, "protocol": "TCP"}],
                                                                       [{"port": 8181, "protocol": "TCP"}]]


# --- the rules: the program's site passes; each break is refused by its rule alone ---------------

def _named(resources, name: str):
    return workloads(resources)[name]


def escalate(resources):
    pod(_named(resources, "pacs"))[1]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True


def keep_capabilities(resources):
    del pod(_named(resources, "view"))[1]["containers"][0]["securityContext"]["capabilities"]


def add_sys_admin(resources):
    pod(_named(resources, "db"))[1]["containers"][0]["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")


def unconfined(resources):
    del pod(_named(resources, "pacs-singleton"))[1]["securityContext"]


def mount_token(resources):
    del pod(_named(resources, "o3-maintenance"))[1]["automountServiceAccountToken"]


def no_deadline(resources):
    del _named(resources, "o3-maintenance").inputs["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]


def no_default_deny(resources):
    resources[:] = [r for r in resources if not (r.type == NETWORK_POLICY and r.inputs["metadata"]["name"] == "o3-default-deny")]


def db_open_to_all(resources):
    (db,) = [r for r in resources if r.type == NETWORK_POLICY and r.inputs["metadata"]["name"] == "o3-db"]
    db.inputs["spec"]["ingress"].append({"ports": [{"port": 3306}]})


@pytest.mark.parametrize("change, rule, words", [
    (escalate, "o3-no-privilege-escalation", "workload 'pacs': container 'pacs' may gain privileges"),
    (keep_capabilities, "o3-capabilities-dropped", "keeps the runtime's default capabilities"),
    (add_sys_admin, "o3-capabilities-dropped", "adds SYS_ADMIN"),
    (unconfined, "o3-seccomp-runtime-default", "'pacs-singleton' runs without a seccomp profile"),
    (mount_token, "o3-no-api-token", "workload 'o3-maintenance': its pods get the service account's API token"),
    (no_deadline, "o3-jobs-bounded", "has no activeDeadlineSeconds: a hung run is never ended"),
    (no_default_deny, "o3-network-isolation", "no NetworkPolicy denies by default"),
    (db_open_to_all, "o3-network-isolation", "NetworkPolicy 'o3-db' ingress[1] admits any source"),
], ids=lambda v: v.__name__ if callable(v) else None)
def test_each_lockdown_rule_refuses_its_break(change: Callable, rule: str, words: str):
    resources = copy.deepcopy(site())
    assert not NEW_RULES & set(by_policy(analyze(resources)))
    change(resources)
    found = by_policy(analyze(resources))
    assert rule in found, found
    assert any(words in v.message for v in found[rule]), [v.message for v in found[rule]]
    assert set(found) & NEW_RULES == {rule}, f"only {rule} should object: {sorted(found)}"


def test_the_lockdown_rules_say_nothing_of_a_docker_site():
    """Kubernetes only (each rule's module says why): a Docker site's facts carry no confinement,
    API token, job or network policy."""
    cfg = copy.deepcopy(BASE)
    found = by_policy(analyze(evaluate(cfg, {"o3:dbPassword"}).resources))
    assert not NEW_RULES & set(found), found


def test_a_site_with_off_site_copies_passes_every_lockdown_rule():
    """The CronJob o3-offsite is confined like every workload (the real engine refused it once:
    its two containers kept the runtime's capabilities)."""
    cfg = {"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
           "o3:site": {"name": "locked", "timezone": "Europe/Rome", "concurrentUsers": 10, "examsPerDay": 20},
           "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 100}, "o3:dbPassword": PASSWORD,
           "o3:offsite": {"repository": "rest:https://10.0.0.9:8000/locked", "httpUser": "locked"},
           "o3:offsitePassword": "offsite-repository-pw-1", "o3:offsiteHttpPassword": "offsite-http-pw-1"}
    resources = evaluate(cfg, {"o3:dbPassword", "o3:offsitePassword", "o3:offsiteHttpPassword"}).resources
    assert "o3-offsite" in workloads(resources)
    cron = pod(workloads(resources)["o3-offsite"])[1]
    assert {c["name"]: c["securityContext"]["capabilities"].get("add") for c in cron["containers"]} == \
        {"dump": None, "restic": ["DAC_OVERRIDE"]}
    found = by_policy(analyze(resources))
    assert not NEW_RULES & set(found), {k: [v.message for v in found[k]] for k in NEW_RULES & set(found)}
