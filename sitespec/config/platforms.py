"""Which platform owns which key, read from the models' `OnlyOn` metadata, and the refusals that
follow: a key of the other platform is refused by name, a key the stack's platform requires is
asked for. There is no list of keys to keep: a new field marked `OnlyOn("docker")` is refused on
Kubernetes, and marked in the config table (docs/config.md), with no other edit."""

from __future__ import annotations

from typing import Iterator, Optional

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .fields import PROJECT, OnlyOn, how_to_set, key_of, marker, model_of

# How a refusal ends, per platform that owns the key.
_FIX = {"docker": " (README: Large sites on Kubernetes)", "kubernetes": ", or set o3:platform kubernetes"}


def owner(f: FieldInfo) -> Optional[str]:
    """The platform that owns the field, or None when it means the same on both."""
    only = marker(f, OnlyOn)
    return only.platform if only else None


def owned(model: type[BaseModel], platform: str, prefix: str = f"{PROJECT}:",
          path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...], FieldInfo]]:
    """(key, alias path, field) of each field `platform` owns, outermost first (o3:host, not its fields)."""
    for name, f in model.model_fields.items():
        key, here = key_of(name, f, prefix), path + (f.alias or name,)
        if owner(f) == platform:
            yield key, here, f
        elif owner(f) is None and (sub := model_of(f.annotation)) is not None:
            yield from owned(sub, platform, key + ".", here)


def _is_set(obj: BaseModel, name: str) -> bool:
    # Set by the stack, not left at its default (Pulumi.yaml's {} defaults never get here).
    return name in obj.model_fields_set and getattr(obj, name) not in (None, [])


def problems(cfg: BaseModel, platform: str, prefix: str = f"{PROJECT}:") -> list[str]:
    """One line per key of another platform that the stack sets, and per key `platform` requires
    that it leaves out."""
    found = []
    for name, f in type(cfg).model_fields.items():
        key, value, only = key_of(name, f, prefix), getattr(cfg, name), marker(f, OnlyOn)
        if only is not None and only.platform != platform:
            if _is_set(cfg, name):
                found.append(f"{key}: is for o3:platform {only.platform} only, and this stack sets o3:platform "
                             f"{platform}; remove it{_FIX.get(only.platform, '')}")
        elif only is not None and only.required and value is None:
            found.append(f"{key}: missing while o3:platform is {platform}; {how_to_set(key, f)}")
        elif isinstance(value, BaseModel):
            found += problems(value, platform, key + ".")
    return found
