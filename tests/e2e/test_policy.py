"""The policy pack and the config check with the real CLI: an undersized host and an invalid
config are refused before anything exists (a healthy site passing every rule is the lifecycle
suite's fresh `up`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from daemon import clean
from e2e_harness import Project, stack_config
from site_fixtures import PASSWORD

pytestmark = pytest.mark.e2e


def assert_nothing_created(project: Project, client, site: str) -> None:
    assert [r["type"] for r in project.resources() if r["type"].startswith(("docker:", "command:", "random:"))] == []
    assert client.containers.list(all=True, filters={"label": f"o3.site={site}"}) == []


@pytest.fixture
def stack(pulumi_env, docker_host, client, images, nofile_cap):
    clean(client)
    made = []

    def make(name: str, change) -> Project:
        work = Path(tempfile.mkdtemp(prefix="o3-e2e-policy-"))
        cfg = stack_config(str(work / "storage"), images, docker_host, nofile_cap, name=name)
        change(cfg)
        p = Project(work, name, pulumi_env, secrets=[PASSWORD])
        p.init(cfg, {"o3:dbPassword": PASSWORD})
        made.append(p)
        return p

    yield make
    for p in made:
        p.destroy(check=False)
        p.remove()
    clean(client)


def test_an_undersized_host_is_refused_naming_the_site_and_the_rules(stack, client):
    def undersized(cfg):
        cfg["o3:site"].update(concurrentUsers=35, pathology=True)
        cfg["o3:host"].update(cpuCores=4, memoryGb=8, storageGb=30)

    p = stack("small-site", undersized)
    out = p.up(check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    for rule in ("o3-sizing-cores", "o3-sizing-memory", "o3-sizing-storage"):
        assert rule in text
    assert "mandatory" in text and "site small-site" in text and "53 cores required" in text
    assert_nothing_created(p, client, "small-site")


def test_an_invalid_config_is_refused_with_its_message(stack, client):
    p = stack("bad-site", lambda cfg: cfg["o3:site"].update(storagePath="data/o3", timezone="Mars/Base"))
    out = p.up(check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "the stack config is not valid, nothing was deployed" in text
    assert "o3:site.storagePath" in text and "o3:site.timezone" in text and "Traceback" not in text
    assert_nothing_created(p, client, "bad-site")
