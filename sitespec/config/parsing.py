"""`parse()`: the stack's raw config, as the CLI or a stack file hands it over, validated in one
pass. pydantic reads everything, JSON text included (sitespec.config.models); this module only
leaves out Pulumi.yaml's "not set" defaults, checks the secrets, and turns pydantic's errors into
one line per problem that names the key and the fix."""

from __future__ import annotations

import json
from typing import Any, Optional

from pydantic import ValidationError

from .fields import PROJECT, ProviderKey, field_at, how_to_set, marker, model_of
from .models import SiteConfig
from .secret_keys import SECRET_KEYS, check_secret

# Top-level keys holding an object that may be left out (Pulumi.yaml declares them with a {} default).
OPTIONAL_OBJECTS = {f.alias or n for n, f in SiteConfig.model_fields.items()
                    if model_of(f.annotation) is not None and not f.is_required()}
# Fields read from a provider's namespace, not `o3:`, and their keys there (dockerHost: docker:host).
DOCKER_KEYS = {f.alias or n: pk.key for n, f in SiteConfig.model_fields.items() if (pk := marker(f, ProviderKey))}


class ConfigError(ValueError):
    """One line per problem; the program hands it to the engine as a RunError (no traceback)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "the stack config is not valid, nothing was deployed:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def _key(loc: tuple[Any, ...]) -> str:
    head, *rest = [str(p) for p in loc]
    if head in DOCKER_KEYS:
        return DOCKER_KEYS[head] + "".join(f"[{p}]" for p in rest)
    return f"{PROJECT}:{head}" + "".join(f".{p}" for p in rest)


def _describe(err: dict[str, Any]) -> str:
    loc = err["loc"]
    key = _key(loc) if loc else f"{PROJECT}:"
    kind, msg = err["type"], err["msg"]
    f = field_at(SiteConfig, loc)
    if kind == "missing":
        return f"{key}: missing; {how_to_set(key, f)}"
    if kind == "extra_forbidden":
        return f"{key}: unknown key; check the spelling against the config table in docs/config.md"
    if len(loc) == 1 and f is not None and kind in ("json_invalid", "model_type", "list_type"):
        if model_of(f.annotation):
            return f"{key}: must be an object with named fields; {how_to_set(key, f)}"
        return f"{key}: must be a list" + (f", e.g. {json.dumps(f.examples[0])}" if f.examples else "")
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    # pydantic's own messages never echo the value here: secrets are not validated by pydantic.
    if not loc:  # a check across keys: its message names them
        return msg
    return f"{key}: {msg}"


def parse(
    raw: dict[str, Any],
    secret_keys: set[str] | frozenset[str] = frozenset(),
    docker_host: Optional[str] = None,
    ssh_opts: Any = None,
) -> SiteConfig:
    """Validate raw config (`{"site": {...}, "dbPassword": "...", ...}`, keys without `o3:`; an
    object as a mapping or as the CLI's JSON text).

    `secret_keys` are the short names set with --secret; `docker_host` is `docker:host`, `ssh_opts`
    `docker:sshOpts` (a list or its JSON text). Raises ConfigError listing every problem.
    """
    problems: list[str] = []
    data: dict[str, Any] = {"dockerHost": docker_host} if docker_host else {}
    if ssh_opts not in (None, "", []):
        data["sshOpts"] = ssh_opts
    for key, value in raw.items():
        if key in DOCKER_KEYS:  # o3:dockerHost is not docker:host
            problems.append(f"{PROJECT}:{key}: unknown key; check the spelling against the config table in docs/config.md")
        elif key in SECRET_KEYS:
            if value == "":  # Pulumi.yaml's default: not set
                continue
            problems += check_secret(key, value, key in secret_keys)
            data[key] = value
        elif key in OPTIONAL_OBJECTS and value in ({}, "{}"):  # Pulumi.yaml's default (the CLI's JSON): not set
            continue
        else:
            data[key] = value
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as e:
        problems += [line for err in e.errors(include_input=False) for line in _describe(err).split("\n")]
        cfg = None
    if cfg is not None and not problems:
        problems += cfg.tls_checks(key_unreadable="tlsKey" in secret_keys and not raw.get("tlsKey"))[0]
        problems += cfg.offsite_checks({k for k in SECRET_KEYS if k in secret_keys or raw.get(k)})
    if problems:
        raise ConfigError(problems)
    assert cfg is not None
    return cfg
