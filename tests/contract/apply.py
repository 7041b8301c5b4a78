"""Applies the specs the site program registers (recorded on the mock engine) to a real Docker
daemon, the way the docker provider and the command provider would: networks, containers
(uploads before start, `wait` for healthy), and local commands run with their environment.

Every input field is either applied or explicitly known to be irrelevant here; any other field
fails the test, so a new program setting cannot slip past the contract tests unexercised.

What the real engine proves (a fresh site, the apps' connections, folders and ports, bumps that
keep the data, the folder/schema/backup steps over ssh) lives in tests/e2e and no longer here.
This applier stays for what the engine cannot do: run one step again with a wrong password, a
shorter retention, a recording `docker` first on PATH, or a daemon limit, and look at the result.
"""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import tarfile
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import docker
from docker.types import Healthcheck, IPAMConfig, IPAMPool, LogConfig, Ulimit

from engine import Resource

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
COMMAND = "command:local:Command"

CONTAINER_FIELDS = {
    "name", "image", "restart", "command", "envs", "uploads", "volumes", "ulimits", "ports", "healthcheck",
    "networksAdvanced", "labels", "wait", "waitTimeout", "destroyGraceSeconds", "entrypoints", "logDriver", "logOpts",
    "removeVolumes",  # a delete-time option; our clean-up removes what a test made
}
NETWORK_FIELDS = {"name", "driver", "ipamDriver", "ipamConfigs"}
COMMAND_FIELDS = {"create", "update", "interpreter", "environment", "logging", "triggers"}


class UnknownField(AssertionError):
    pass


def _check_fields(r: Resource, known: set[str]) -> dict[str, Any]:
    props = {k: v for k, v in ((k, r.plain(k)) for k in r.inputs) if v is not None}
    unknown = set(props) - known
    if unknown:
        raise UnknownField(f"{r.type} {r.name}: the contract applier does not know how to apply {sorted(unknown)}")
    return props


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def go_duration_ns(text: str) -> int:
    """Go duration ("2s", "1m30s") in nanoseconds, as the provider sends it to the Engine API."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return int(sum(float(n) * _UNIT_NS[u] for n, u in parts))


def substitute(value: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in mapping.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [substitute(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, mapping) for k, v in value.items()}
    return value


@dataclass
class Applied:
    container: Any
    seconds_to_healthy: Optional[float] = None
    stop_grace: int = 0

    def remove(self) -> None:
        """What the provider does on delete: stop with the grace period, then remove."""
        self.container.stop(timeout=self.stop_grace)
        self.container.remove()


class Applier:
    def __init__(self, client: docker.DockerClient, image_map: Mapping[str, str]):
        self.client = client
        self.image_map = dict(image_map)

    def network(self, r: Resource):
        p = _check_fields(r, NETWORK_FIELDS)
        ipam = IPAMConfig(driver=p.get("ipamDriver", "default"),
                          pool_configs=[IPAMPool(subnet=c["subnet"], gateway=c.get("gateway"))
                                        for c in p.get("ipamConfigs", [])])
        return self.client.networks.create(p["name"], driver=p.get("driver", "bridge"), ipam=ipam)

    def container(self, r: Resource, override: Optional[dict[str, Any]] = None) -> Applied:
        p = substitute(_check_fields(r, CONTAINER_FIELDS), self.image_map)
        p.update(override or {})
        networks = [n["name"] for n in p.get("networksAdvanced", [])]
        hc = p.get("healthcheck")
        kwargs: dict[str, Any] = dict(
            name=p["name"],
            image=p["image"],
            command=p.get("command"),
            entrypoint=p.get("entrypoints"),
            log_config=LogConfig(type=p["logDriver"], config=p.get("logOpts", {})) if p.get("logDriver") else None,
            environment=p.get("envs", []),
            restart_policy={"Name": p.get("restart", "no")},
            volumes=[f"{v['hostPath']}:{v['containerPath']}:{'ro' if v.get('readOnly') else 'rw'}" for v in p.get("volumes", [])],
            ulimits=[Ulimit(name=u["name"], soft=int(u["soft"]), hard=int(u["hard"])) for u in p.get("ulimits", [])],
            ports={f"{int(x['internal'])}/{x.get('protocol', 'tcp')}": (x.get("ip", "0.0.0.0"), int(x["external"]))
                   for x in p.get("ports", [])},
            labels={lbl["label"]: lbl["value"] for lbl in p.get("labels", [])},
            healthcheck=Healthcheck(
                test=hc["tests"], interval=go_duration_ns(hc["interval"]), timeout=go_duration_ns(hc["timeout"]),
                retries=int(hc["retries"]),
            ) if hc else None,
            network=networks[0] if networks else None,
            detach=True,
        )
        c = self.client.containers.create(**kwargs)
        uploads = p.get("uploads", [])
        if uploads:  # the provider copies uploads in after create, before start
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                for u in uploads:
                    data = base64.b64decode(u["contentBase64"]) if "contentBase64" in u else u["content"].encode()
                    info = tarfile.TarInfo(u["file"].lstrip("/"))
                    info.size = len(data)
                    info.mode = int(u.get("permissions", "0644"), 8)
                    tar.addfile(info, io.BytesIO(data))
            c.put_archive("/", buf.getvalue())
        c.start()
        # destroyGraceSeconds is how long the provider lets it stop on delete (see remove()).
        applied = Applied(c, stop_grace=int(p.get("destroyGraceSeconds", 0)))
        if p.get("wait"):
            applied.seconds_to_healthy = self.wait_healthy(c, float(p.get("waitTimeout", 60)))
        return applied

    @staticmethod
    def wait_healthy(c, timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            c.reload()
            if c.attrs["State"].get("Health", {}).get("Status") == "healthy":
                return time.monotonic() - start
            if c.status == "exited":
                raise AssertionError(f"container {c.name} exited: {c.logs(tail=20).decode(errors='replace')}")
            time.sleep(0.25)
        raise AssertionError(f"container {c.name} not healthy after {timeout} s: {c.logs(tail=20).decode(errors='replace')}")

    def command(self, r: Resource, env_override: Optional[dict[str, str]] = None, path_prefix: Optional[str] = None,
                timeout: float = 300, step: str = "create") -> subprocess.CompletedProcess:
        """Run the command's `create` (a new or replaced resource) or its `update` (in-place change)."""
        p = substitute(_check_fields(r, COMMAND_FIELDS), self.image_map)
        env = {"PATH": os.environ["PATH"], **p.get("environment", {}), **(env_override or {})}
        if path_prefix:
            env["PATH"] = f"{path_prefix}:{env['PATH']}"
        interpreter = p.get("interpreter") or ["/bin/sh", "-c"]
        script = p.get(step) or p["create"]  # the provider runs create when update is unset
        return subprocess.run([*interpreter, script], env=env, capture_output=True, text=True, timeout=timeout)
