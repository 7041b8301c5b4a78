"""The Docker site's facts (sitespec.facts) from what the engine sends: the declared host from
the site-facts record, the containers, their published ports and bind mounts, the images, the
Docker volumes and the host commands."""

from __future__ import annotations

from typing import Any, Iterable

from pulumi_policy.proxy import UnknownValueError

from sitespec.facts import (
    DB_IMAGE_SUFFIX, SECRET_NAME, Capacity, ContainerFacts, Image, Mount, Published, SiteFacts, Volume, Workload,
)

from . import _engine
from ._engine import items, known, strings

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
BOUNDED_LOG_DRIVERS = {"json-file", "local"}  # the drivers that write to the host's disk
ALL_INTERFACES = {"", "0.0.0.0", "::"}
HOST_KEYS = ("cpuCores", "memoryGb", "storageGb", "networkMbps")


def env_map(container: Any) -> dict[str, str] | None:
    """The container's env as a dict; None while it is not known (preview, new secret)."""
    try:
        envs = container.props["envs"]
    except KeyError:
        return {}
    except UnknownValueError:  # the whole list is unknown: a secret not generated yet
        return None
    if not envs:
        return {}
    out = {}
    for i in range(len(envs)):
        e = known(envs, i)
        if e is None:
            return None
        k, _, v = str(e).partition("=")
        out[k] = v
    return out


def _mount(v: Any, storage: str | None) -> Mount | None:
    path = known(v, "containerPath")
    if path is None:
        return None
    host = known(v, "hostPath")
    if not host:
        return Mount(path, False, "is not a host bind mount",
                     "a Docker volume can be removed with the container or by a prune")
    if storage and not (host == storage or host.startswith(storage.rstrip("/") + "/")):
        return Mount(path, False, f"is mounted from {host}, outside o3:site.storagePath ({storage})",
                     "backups and the data-folder step do not look there")
    return Mount(path, True, "", "")


def _scope(ip: Any) -> str:
    if isinstance(ip, str) and (ip.startswith("127.") or ip == "::1"):
        return "loopback"
    return "everywhere" if ip in ALL_INTERFACES or ip is None else "address"


def _published(c: Any, name: str) -> list[Published]:
    out = []
    for p in items(known(c.props, "ports", [])):
        internal = known(p, "internal")
        if internal is None:
            continue
        ip = known(p, "ip", "")
        where = "all interfaces" if ip in ("", None) else f"'{ip}'"
        how = f"container '{name}' publishes {{port}} on {where} as host port {known(p, 'external', internal):g}"
        out.append(Published(name, (int(internal),), _scope(ip), how, c.urn))
    return out


def _log(c: Any) -> str | None:
    driver = known(c.props, "logDriver", "json-file")
    opts = known(c.props, "logOpts", {})
    if driver in BOUNDED_LOG_DRIVERS and not (known(opts, "max-size") and known(opts, "max-file")):
        return f"logs with '{driver}' without max-size and max-file"
    return None


def _secrets(c: Any, env: dict[str, str] | None) -> set[str]:
    """The DB password file's content and the secret-named variables' values."""
    found = set()
    for item in items(known(c.props, "uploads", [])):
        content = known(item, "content")
        if "password" in str(known(item, "file", "")).lower() and content:
            found.add(content)
    for k, v in (env or {}).items():
        if SECRET_NAME.search(k) and v and not k.endswith("_FILE"):
            found.add(v)
        found |= _engine.connection_passwords(v)
    return found


def command_lines(r: Any) -> list[tuple[str, str]]:
    """(field, string) of what runs as a command line: a host command's steps, a container's
    command, entrypoint and healthcheck."""
    if r.resource_type != CONTAINER:
        return _engine.command_lines(r)
    p = r.props
    out = [(f"command{path}", s) for path, s in strings(known(p, "command", []))]
    out += [(f"entrypoints{path}", s) for path, s in strings(known(p, "entrypoints", []))]
    out += [(f"healthcheck.tests{path}", s) for path, s in strings(known(known(p, "healthcheck", {}), "tests", []))]
    return out


def extract(resources: Iterable[Any]) -> SiteFacts:
    resources = list(resources)
    site = SiteFacts(commands=_engine.commands(resources), secrets=_engine.common_secrets(resources))
    found = _engine.record(resources)
    if found:
        site.record, raw = found
        for key in HOST_KEYS:
            raw_value = raw.get("host" + key[0].upper() + key[1:])
            if raw_value is not None:
                site.capacity[key] = Capacity(float(raw_value), f"o3:host.{key}: {{}} declared")
    storage = site.record.storage_path if site.record else None
    for r in resources:
        if r.resource_type == CONTAINER:
            name = known(r.props, "name", r.name)
            env = env_map(r)
            mounts = tuple(m for v in items(known(r.props, "volumes", [])) if (m := _mount(v, storage)))
            site.workloads.append(Workload(
                name, "container", True, 1, (ContainerFacts(name, None, env, None, mounts),), r.urn,
                removes_volumes=bool(known(r.props, "removeVolumes")), unbounded_log=_log(r)))
            site.published += _published(r, name)
            site.secrets |= _secrets(r, env)
        elif r.resource_type == REMOTE_IMAGE:
            image = Image(known(r.props, "name", ""), r.urn)
            site.images.append(image)
            if r.name.endswith(DB_IMAGE_SUFFIX):
                site.db_image = image
        elif r.resource_type == VOLUME:
            site.volumes.append(Volume(f"Docker volume '{r.name}'", bool(r.opts and r.opts.protect), r.urn))
        site.texts += _engine.texts(r, command_lines(r))
    site.secrets = _engine.worth_checking(site.secrets)
    return site
