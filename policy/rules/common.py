"""What the rules share: finding the site's resources in what the engine sends.

Props arrive camelCase, numbers as floats, secrets unwrapped. Rules never hard-code a threshold:
each reads `args.get_config()` over its own defaults (set with --policy-pack-config).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Iterable, Optional

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
COMMAND = "command:local:Command"
FACTS = "random:index/randomId:RandomId"
FACTS_KIND = "o3-site-facts"  # components.site.FACTS_KIND
DB_IMAGE_SUFFIX = "-db-image"  # components.site names the MySQL image `<site>-db-image`


def config(args: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **(args.get_config() or {})}


def site_facts(resources: Iterable[Any]) -> Optional[tuple[Any, dict[str, str]]]:
    """(resource, facts) of the site-facts record, or None."""
    for r in resources:
        if r.resource_type == FACTS:
            keepers = r.props.get("keepers") or {}
            if keepers.get("kind") == FACTS_KIND:
                return r, dict(keepers)
    return None


def containers(resources: Iterable[Any]) -> list[Any]:
    return [r for r in resources if r.resource_type == CONTAINER]


def env_map(container: Any) -> dict[str, str]:
    out = {}
    for e in container.props.get("envs") or []:
        k, _, v = str(e).partition("=")
        out[k] = v
    return out


def num(facts: dict[str, str], key: str) -> float:
    return float(facts[key])


def strings(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """(path, string) for every string inside a prop value."""
    if isinstance(value, str):
        yield path, value
    # Props come wrapped in pulumi-policy's Mapping/Sequence proxies, not dict/list.
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, Sequence):
        for i, v in enumerate(value):
            yield from strings(v, f"{path}[{i}]")
