"""The site the contract tests deploy: the program's specs (evaluated on the mock engine) applied
to the test daemon in the program's order by apply.py, and the project folder the ops commands
read for it. Everything made here is removed afterwards."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from apply import Applier
from daemon import clean, site_config
from engine import Evaluation, evaluate, mock_image_id
from site_fixtures import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AppliedSite:
    resources: list
    applier: Applier
    storage: str
    config: dict
    seconds_to_healthy: float
    containers: dict = field(default_factory=dict)

    def res(self, type_, **plain):
        return Evaluation(self.resources, {}).one(type_, **plain)

    def command(self, suffix: str):
        return Evaluation(self.resources, {}).command(suffix)


def not_due_schedule(hours: int = 12) -> str:
    """A nightly time far from now in the site's zone, so no test sees an unplanned nightly dump."""
    return (dt.datetime.now(zoneinfo.ZoneInfo("Europe/Rome")) + dt.timedelta(hours=hours)).strftime("%H:%M")


def contract_config(storage: str, docker_host: str, nofile_cap: int) -> tuple[dict, set]:
    """The test daemon's site config with its password in it (the applier reads no stack) and a
    nightly time that is not due."""
    cfg = site_config(storage, docker_host, nofile_cap)
    cfg["o3:backup"] = {"schedule": not_due_schedule()}
    cfg["o3:dbPassword"] = PASSWORD
    return cfg, {"o3:dbPassword"}


def image_map(resources, standins) -> dict[str, str]:
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

    shutil.copy(ROOT / "Pulumi.yaml", folder)
    YAML().dump({"config": {k: v for k, v in config.items() if k != "o3:dbPassword"}}, folder / f"Pulumi.{stack}.yaml")
    return folder


@contextlib.contextmanager
def deployed(client, standins, cfg: dict, secrets: set):
    """The program's specs for `cfg` applied in the program's order; everything removed afterwards."""
    clean(client)
    ev = evaluate(cfg, secrets)
    applier = Applier(client, image_map(ev.resources, standins))
    storage = cfg["o3:site"]["storagePath"]
    try:
        applier.network(ev.one("docker:index/network:Network"))
        s = AppliedSite(ev.resources, applier, storage, cfg, 0.0)
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
