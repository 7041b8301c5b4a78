"""The field types the config models share: their checks, and the metadata the docs, the platforms'
refusals and the error messages read (`Kind`, `OnlyOn`, `ProviderKey`)."""

from __future__ import annotations

import posixpath
import re
import zoneinfo
from dataclasses import dataclass
from typing import Annotated, Any, Optional, get_args

from pydantic import AfterValidator, BaseModel, StrictInt
from pydantic.fields import FieldInfo

from .. import imageref

PROJECT = "o3"

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")


@dataclass(frozen=True)
class Kind:
    """How the README's key table names a field's type (and its default, when a value says too little)."""

    type: str
    default: Optional[str] = None


@dataclass(frozen=True)
class OnlyOn:
    """The key belongs to one platform: a stack on the other platform that sets it is refused, by
    name; with `required`, a stack on this platform must set it."""

    platform: str
    required: bool = False


@dataclass(frozen=True)
class ProviderKey:
    """The field is read from a provider's namespace (e.g. `docker:host`), not from `o3:`."""

    key: str


def marker(f: FieldInfo, kind: type) -> Any:
    """The field's metadata of that type (Kind, OnlyOn, ProviderKey), or None."""
    return next((m for m in f.metadata if isinstance(m, kind)), None)


def model_of(annotation: Any) -> Optional[type[BaseModel]]:
    """The model a field holds (X or Optional[X]), or None for a plain value."""
    for t in (annotation, *get_args(annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def key_of(name: str, f: FieldInfo, prefix: str = f"{PROJECT}:") -> str:
    """The field's key in the stack: `o3:site.storagePath`, or its provider's (`docker:host`)."""
    pk = marker(f, ProviderKey)
    return pk.key if pk else f"{prefix}{f.alias or name}"


def field_at(model: type[BaseModel], path: tuple[Any, ...]) -> Optional[FieldInfo]:
    """The field at an alias path such as ("database", "ulimits"), or None."""
    f = None
    for part in path:
        if model is None:
            return None
        f = next((g for n, g in model.model_fields.items() if (g.alias or n) == part), None)
        if f is None:
            return None
        model = model_of(f.annotation)
    return f


def how_to_set(key: str, f: Optional[FieldInfo]) -> str:
    """'set it with `pulumi config set --path <key> <value>`', naming what an object needs at least."""
    sub = model_of(f.annotation) if f is not None else None
    needs = [g.alias or n for n, g in sub.model_fields.items() if g.is_required()] if sub else []
    example = (f.examples or ["<value>"])[0] if f is not None else "<value>"
    if needs:
        return (f"set it with `pulumi config set --path {key}.{needs[0]} <value>` (needs "
                + ", ".join([f"{key}.{needs[0]}"] + [f".{n}" for n in needs[1:]]) + ")")
    return f"set it with `pulumi config set --path {key} {example}`"


def dns_label(v: str) -> str:
    if not _DNS_LABEL.match(v):
        raise ValueError("must be a DNS label: lower-case letters, digits and '-', 1-63 characters, e.g. 'st-marys'")
    return v


def time_zone(v: str) -> str:
    try:
        zoneinfo.ZoneInfo(v)  # one file lookup; available_timezones() walks the whole tree
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{v}' is not an IANA time zone name; use e.g. 'Europe/Rome' or 'UTC'") from None
    return v


def abs_path(v: str) -> str:
    if not v.startswith("/"):
        raise ValueError(f"must be an absolute path on the Docker host, e.g. /srv/o3 (got '{v}')")
    if not _SAFE_PATH.match(v):
        raise ValueError("may only contain letters, digits, '.', '_', '-' and '/' (a ':' or a space breaks bind mounts)")
    norm = posixpath.normpath(v)
    if norm != v.rstrip("/") or ".." in v.split("/"):
        raise ValueError(f"must be a normalised path without '..', '//' or a trailing '/': use '{norm}'")
    if norm == "/":
        raise ValueError("must not be '/': use a dedicated folder, e.g. /srv/o3")
    return norm


def image_ref(v: str) -> str:
    if imageref.has_placeholder(v):
        raise ValueError(
            f"'{v}' still holds the guide's placeholder: put the version your O3 contact gave you, e.g. ...:1.2.3"
        )
    if imageref.parse(v) is None:
        raise ValueError(f"'{v}' is not a valid image reference: use registry/path/name:tag")
    return v


def _port(v: int) -> int:
    if not 1 <= v <= 65535:
        raise ValueError("must be a TCP port between 1 and 65535")
    return v


Port = Annotated[StrictInt, AfterValidator(_port), Kind("port")]
ImageRef = Annotated[str, AfterValidator(image_ref), Kind("image ref")]
