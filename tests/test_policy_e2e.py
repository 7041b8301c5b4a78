"""The site program evaluated on the mock engine, its resources fed to the whole policy pack."""

import copy

from site_fixtures import BASE, PASSWORD, REGISTRY_KEY
import pytest

from engine import ROOT, evaluate, stack_file_config
from policy_harness import analyze, by_policy
from tlsfixtures import tls_site


def mandatory(violations):
    return [v for v in violations if v.level == "mandatory"]


def test_well_sized_site_with_secrets_passes_every_rule():
    ev = evaluate(dict(BASE, **{"o3:dbPassword": PASSWORD, "o3:registryKey": REGISTRY_KEY}), {"o3:dbPassword", "o3:registryKey"})
    assert analyze(ev.resources) == []


@pytest.mark.parametrize("stack", sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml")))
def test_shipped_stacks_pass_every_rule(stack):
    cfg, secrets = stack_file_config(stack)
    assert analyze(evaluate(cfg, secrets, stack=stack).resources) == []


def test_undersized_host_is_refused_with_the_site_found_required_and_why():
    cfg = copy.deepcopy(BASE)
    cfg["o3:site"].update(concurrentUsers=35, pathology=True)
    cfg["o3:host"].update(cpuCores=16, memoryGb=24, storageGb=30, networkMbps=50)
    ev = evaluate(cfg)
    got = by_policy(analyze(ev.resources))
    assert {p for p, vs in got.items() if any(v.level == "mandatory" for v in vs)} == {
        "o3-sizing-cores", "o3-sizing-memory", "o3-sizing-storage"}
    assert got["o3-sizing-network"][0].level == "advisory"
    cores = got["o3-sizing-cores"][0].message
    assert "site test-site" in cores and "16 cores declared, 53 cores required" in cores and "pathology" in cores
    # The program itself warns at preview too.
    assert any("cpuCores" in w for w in ev.warnings())


def test_publishing_mysql_everywhere_is_flagged_advisory():
    ev = evaluate(dict(BASE, **{"o3:database": {"publish": "0.0.0.0"}}))
    got = by_policy(analyze(ev.resources))
    assert [v.level for v in got["o3-mysql-port-private"]] == ["advisory"]


def test_a_latest_image_is_refused():
    cfg = copy.deepcopy(BASE)
    cfg["o3:images"]["view"] = "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/view:latest"
    got = by_policy(analyze(evaluate(cfg).resources))
    assert got["o3-pinned-images"][0].level == "mandatory"


def test_facts_changes_touch_only_the_facts_record():
    a = evaluate(BASE)
    cfg = copy.deepcopy(BASE)
    cfg["o3:site"]["concurrentUsers"] = 18
    cfg["o3:host"]["cpuCores"] = 12
    b = evaluate(cfg)
    before = {r.name: r.inputs for r in a.resources}
    changed = [r.name for r in b.resources if r.inputs != before[r.name]]
    assert changed == ["test-site-site-facts"]


def test_a_tls_site_passes_every_rule():
    cfg, secrets = tls_site()
    assert analyze(evaluate(cfg, secrets).resources) == []
