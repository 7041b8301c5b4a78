"""Stack files evaluate, with the CLI's handling of Pulumi.yaml defaults: every shipped stack
(whatever the set of sites is), and the sample fleet's dev and remote sites in detail."""

from pathlib import Path

import pytest

from engine import ROOT, evaluate, stack_file_config

STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in Path(ROOT).glob("Pulumi.*.yaml"))
SAMPLE_FLEET = Path(__file__).resolve().parent / "fleet"


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_evaluates_to_a_whole_site(stack):
    cfg, secrets = stack_file_config(stack)
    ev = evaluate(cfg, secrets, stack=stack)
    names = sorted(r.plain("name") for r in ev.of_type("docker:index/container:Container"))
    assert names == sorted(["db", "pacs", "pacs-singleton", "view", "o3-maintenance"]
                           + (["o3-proxy"] if cfg.get("o3:tls", {}).get("enabled") else []))
    assert set(ev.outputs) == {"pacsUrl", "viewUrl", "logFolders", "storagePath", "backupFolder", "nextSteps", "images"}
    assert ev.outputs["logFolders"]["pacs"].endswith("/compose/pacs/log")
    assert any("licence" in step for step in ev.outputs["nextSteps"])


def test_dev_publishes_mysql_on_loopback_only():
    cfg, secrets = stack_file_config("dev", root=SAMPLE_FLEET)
    ev = evaluate(cfg, secrets)
    assert [p["ip"] for p in ev.container("db").plain("ports")] == ["127.0.0.1"]


def test_st_marys_is_a_remote_ssh_site_with_its_public_host():
    cfg, secrets = stack_file_config("st-marys", root=SAMPLE_FLEET)
    ev = evaluate(cfg, secrets, stack="st-marys")
    assert ev.one("pulumi:providers:docker").plain("host").startswith("ssh://")
    assert ev.outputs["viewUrl"] == "http://pacs.st-marys.example:8181/"
    assert not ev.container("db").plain("ports")
