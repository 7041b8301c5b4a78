"""What the rules share: finding the site's resources in what the engine sends.

Props arrive camelCase, numbers as floats, secrets unwrapped. Rules never hard-code a threshold:
each reads `args.get_config()` over its own defaults (set with --policy-pack-config).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Iterable, Optional

from pulumi_policy.proxy import UnknownValueError

# What the program registers for the pack: one record, one name convention (sitespec.facts).
from sitespec.facts import DB_IMAGE_SUFFIX, FACTS_KIND  # noqa: F401 - re-exported to the rules

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
COMMAND = "command:local:Command"
FACTS = "random:index/randomId:RandomId"


def known(mapping: Any, key: Any, default: Any = None) -> Any:
    """mapping[key], or `default` when absent or not known yet (during preview)."""
    try:
        value = mapping[key]
    except (KeyError, IndexError):
        return default
    except UnknownValueError:
        return default
    return default if value is None else value


def config(args: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **(args.get_config() or {})}


def site_facts(resources: Iterable[Any]) -> Optional[tuple[Any, dict[str, str]]]:
    """(resource, facts) of the site-facts record, or None."""
    for r in resources:
        if r.resource_type == FACTS:
            keepers = known(r.props, "keepers", {})
            if known(keepers, "kind") == FACTS_KIND:
                return r, {k: known(keepers, k) for k in keepers}
    return None


def containers(resources: Iterable[Any]) -> list[Any]:
    return [r for r in resources if r.resource_type == CONTAINER]


def env_map(container: Any) -> Optional[dict[str, str]]:
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


def num(facts: dict[str, str], key: str) -> float:
    return float(facts[key])


_UNKNOWN = object()


def strings(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """(path, string) for every known string inside a prop value (unknowns are skipped)."""
    if isinstance(value, str):
        yield path, value
    # Props come wrapped in pulumi-policy's Mapping/Sequence proxies, not dict/list.
    elif isinstance(value, Mapping):
        for k in list(value):
            v = known(value, k, _UNKNOWN)
            if v is not _UNKNOWN:
                yield from strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, Sequence):
        for i in range(len(value)):
            v = known(value, i, _UNKNOWN)
            if v is not _UNKNOWN:
                yield from strings(v, f"{path}[{i}]")
