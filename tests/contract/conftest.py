"""Fixtures for the contract tests: a disposable Docker daemon, the stand-in images and one site
deployed from the program's own specs. Everything made here is removed afterwards."""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SITE_NAMES = ("db", "pacs", "pacs-singleton", "view", "o3-maintenance", "o3-proxy")
PASSWORD = "Contract-Test_Pw.42"


def _daemon_host() -> str:
    host = os.environ.get("O3_TEST_DOCKER_HOST")
    if not host:
        pytest.skip("O3_TEST_DOCKER_HOST is not set: these tests create and remove containers named db/pacs/view, "
                    "so they only run against a disposable daemon (.ci/run starts one)")
    return host


@pytest.fixture(scope="session")
def docker_host() -> str:
    return _daemon_host()


@pytest.fixture(scope="session")
def client(docker_host):
    import docker

    try:
        c = docker.DockerClient(base_url=docker_host, timeout=120)
        c.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no Docker daemon reachable at {docker_host}: {e}")
    return c


@pytest.fixture(scope="session")
def standins(docker_host, client) -> dict[str, str]:
    """Image tags of the stand-ins, built once (reused when present)."""
    env = dict(os.environ, DOCKER_HOST=docker_host)
    start = time.monotonic()
    out = subprocess.run([str(HERE / "build-standins.sh")], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"building the stand-in images failed:\n{out.stdout}\n{out.stderr}")
    print(f"\n[figures] stand-in images ready in {time.monotonic() - start:.1f} s: {out.stdout.strip()}")
    tag = out.stdout.strip().split(":")[-1]
    return {"db": f"o3-standin-db:{tag}", "app": f"o3-standin-app:{tag}", "proxy": f"o3-standin-proxy:{tag}"}


@pytest.fixture(scope="session")
def nofile_cap(client, standins) -> int:
    """The open-files hard limit this daemon can give a container."""
    from ops import preflight

    return preflight.nofile_limit(preflight.HostProbe(client, standins["db"]))


def clean(client, network="o3net"):
    """Remove what a site run leaves on the test daemon: containers (with their anonymous
    volumes), the network and the upgrade test's images."""
    for name in (*SITE_NAMES, "db-ulimit-probe"):
        try:
            client.containers.get(name).remove(force=True, v=True)
        except Exception:  # noqa: BLE001 - absent is fine
            pass
    for n in client.networks.list(names=[network]):
        n.remove()
    for ref in ("o3-standin-db:upgrade", "o3-standin-app:upgrade"):
        try:
            client.images.remove(ref)
        except Exception:  # noqa: BLE001
            pass


@dataclass
class Site:
    resources: list
    applier: object
    storage: str
    config: dict
    seconds_to_healthy: float
    containers: dict = field(default_factory=dict)

    def res(self, type_, **plain):
        from engine import Evaluation

        return Evaluation(self.resources, {}).one(type_, **plain)

    def command(self, suffix: str):
        from engine import Evaluation

        return Evaluation(self.resources, {}).command(suffix)


def not_due_schedule(hours: int = 12) -> str:
    """A nightly time far from now in the site's zone, so no test sees an unplanned nightly dump."""
    import datetime as dt
    import zoneinfo

    return (dt.datetime.now(zoneinfo.ZoneInfo("Europe/Rome")) + dt.timedelta(hours=hours)).strftime("%H:%M")


def site_config(storage: str, docker_host: str, nofile_cap: int) -> tuple[dict, set]:
    from site_fixtures import BASE  # tests/conftest.py

    cfg = copy.deepcopy(BASE)
    cfg["o3:backup"] = {"schedule": not_due_schedule()}
    cfg["o3:site"]["storagePath"] = storage
    cfg["o3:ports"] = {"bindAddress": "127.0.0.1"}  # test traffic stays on loopback
    cfg["o3:database"] = {"ulimits": {"nofileSoft": min(26677, nofile_cap), "nofileHard": min(46677, nofile_cap)},
                          "waitTimeoutSeconds": 120}
    cfg["o3:dbPassword"] = PASSWORD
    cfg["docker:host"] = docker_host
    return cfg, {"o3:dbPassword"}


def image_map(resources, standins) -> dict[str, str]:
    from engine import mock_image_id

    def standin(r) -> str:
        for role in ("db", "proxy"):
            if r.name.endswith(f"-{role}-image"):
                return standins[role]
        return standins["app"]

    return {mock_image_id(r.plain("name")): standin(r) for r in resources
            if r.type == "docker:index/remoteImage:RemoteImage"}


def stack_project(config: dict, stack: str, folder: Path) -> Path:
    """A project folder whose Pulumi.<stack>.yaml describes a test site (the ops commands read no
    secret, so the password is left out)."""
    from ruamel.yaml import YAML

    root = Path(__file__).resolve().parents[2]
    shutil.copy(root / "Pulumi.yaml", folder)
    YAML().dump({"config": {k: v for k, v in config.items() if k != "o3:dbPassword"}}, folder / f"Pulumi.{stack}.yaml")
    return folder


@contextlib.contextmanager
def deployed(client, standins, cfg: dict, secrets: set):
    """The program's specs for `cfg` applied in the program's order; everything removed afterwards."""
    from apply import Applier
    from engine import evaluate

    clean(client)
    ev = evaluate(cfg, secrets)
    applier = Applier(client, image_map(ev.resources, standins))
    storage = cfg["o3:site"]["storagePath"]
    try:
        applier.network(ev.one("docker:index/network:Network"))
        s = Site(ev.resources, applier, storage, cfg, 0.0)
        mkdir = applier.command(s.command("-mkdir"))
        assert mkdir.returncode == 0, mkdir.stderr
        first = applier.command(s.command("-dump"))  # the program orders it before every container
        assert first.returncode == 0 and "first install" in first.stdout, first.stderr
        db = applier.container(ev.container("db"))
        s.seconds_to_healthy = db.seconds_to_healthy
        print(f"\n[figures] db healthy {db.seconds_to_healthy:.1f} s after start (first start, empty data folder)")
        s.containers["db"] = db.container
        schemas = applier.command(s.command("-create"))
        assert schemas.returncode == 0, schemas.stderr
        names = [c.plain("name") for c in ev.of_type("docker:index/container:Container") if c.plain("name") != "db"]
        for name in names:
            s.containers[name] = applier.container(ev.container(name)).container
        yield s
    finally:
        clean(client)


@pytest.fixture(scope="module")
def site(client, docker_host, standins, nofile_cap):
    tmp = tempfile.mkdtemp(prefix="o3-contract-")
    cfg, secrets = site_config(os.path.join(tmp, "storage"), docker_host, nofile_cap)
    try:
        with deployed(client, standins, cfg, secrets) as s:
            yield s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
