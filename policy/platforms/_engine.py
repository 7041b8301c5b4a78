"""Reading what the engine sends the pack, on any platform: props arrive camelCase, numbers as
floats, secrets unwrapped; during preview some are not known yet, and those are skipped (the `up`
run checks them again on real values). Also what both platforms' adapters extract alike: the
site-facts record, host commands, the registry login, and strings in fields that are not secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Iterable, Optional

from pulumi_policy.proxy import UnknownValueError

from sitespec.facts import FACTS_KIND, SECRET_NAME, Command, Record, Text

COMMAND = "command:local:Command"
FACTS = "random:index/randomId:RandomId"
MIN_SECRET_LEN = 6  # shorter strings are too common to be evidence
COMMAND_FIELDS = ("create", "update", "delete", "read")
CONNECTION_PASSWORD = re.compile(r"password=([^;]+)")


def known(mapping: Any, key: Any, default: Any = None) -> Any:
    """mapping[key], or `default` when absent or not known yet (during preview)."""
    try:
        value = mapping[key]
    except (KeyError, IndexError):
        return default
    except UnknownValueError:
        return default
    return default if value is None else value


def items(seq: Any) -> list[Any]:
    """The known entries of a list prop (an entry not known yet is left out)."""
    return [v for i in range(len(seq)) if (v := known(seq, i)) is not None]


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


def record(resources: Iterable[Any]) -> Optional[tuple[Record, dict[str, str]]]:
    """The site-facts record (sitespec.facts) and its raw keepers, or None."""
    for r in resources:
        if r.resource_type == FACTS:
            keepers = known(r.props, "keepers", {})
            if known(keepers, "kind") == FACTS_KIND:
                raw = {k: known(keepers, k) for k in keepers}
                return Record(raw["site"], int(float(raw["concurrentUsers"])), raw.get("pathology") == "true",
                              int(float(raw["examsPerDay"])), raw.get("storagePath")), raw
    return None


def commands(resources: Iterable[Any]) -> list[Command]:
    out = []
    for r in resources:
        if r.resource_type == COMMAND:
            text = " ".join(str(known(r.props, k, "")) for k in ("create", "update", "delete"))
            out.append(Command(r.name, text, bool(known(r.props, "delete")), r.urn))
    return out


def command_lines(r: Any) -> list[tuple[str, str]]:
    """(field, script) of a host command's steps."""
    if r.resource_type != COMMAND:
        return []
    return [(k, v) for k in COMMAND_FIELDS if isinstance(v := known(r.props, k), str)]


def _registry_passwords(props: Any) -> list[str]:
    auth = known(props, "registryAuth", [])
    if isinstance(auth, str):  # provider config may arrive JSON-encoded
        try:
            auth = json.loads(auth)
        except json.JSONDecodeError:
            return []
    return [pw for a in auth if isinstance(a, Mapping) and (pw := known(a, "password"))]


def common_secrets(resources: Iterable[Any]) -> set[str]:
    """Secret values in a host command's environment and a provider's registry login."""
    found: set[str] = set()
    for r in resources:
        if r.resource_type == COMMAND:
            env = known(r.props, "environment", {})
            for k in list(env):
                v = known(env, k)
                if SECRET_NAME.search(k) and isinstance(v, str) and v:
                    found.add(v)
        elif str(r.resource_type).startswith("pulumi:providers:"):
            found.update(_registry_passwords(r.props))
    return found


def worth_checking(secrets: set[str]) -> set[str]:
    return {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LEN}


def unprotected_fields(r: Any, skip: set[str]) -> list[Text]:
    """Strings in the resource's fields that the engine does not keep secret (`skip`: fields
    checked as command lines)."""
    kept = set(r.opts.additional_secret_outputs or []) if getattr(r, "opts", None) else set()
    out = []
    for top in list(r.props):
        if top in kept:
            continue
        for path, text in strings(known(r.props, top, ""), top):
            if path.split(".")[0].split("[")[0] in skip or path in skip:
                continue
            out.append(Text(r.name, path, text, r.urn,
                            fix=f"add '{top}' to the resource's additional_secret_outputs and pass the value as a "
                                "Pulumi secret."))
    return out


def texts(r: Any, lines: list[tuple[str, str]]) -> list[Text]:
    """What a resource outside the cluster shows: its command lines (`lines`: field, string), and
    the strings in its fields that are not kept secret."""
    out = [Text(r.name, f, s, r.urn, command=True, password_flags=True) for f, s in lines]
    return out + unprotected_fields(r, {f for f, _ in lines})


def connection_passwords(value: str) -> set[str]:
    return {m.group(1) for m in CONNECTION_PASSWORD.finditer(value)}
