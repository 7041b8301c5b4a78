"""Reads `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to the program, for commands
that run outside `pulumi` (sizing, preflight, fleet views).

Pulumi.yaml's declared defaults are filled in for keys the stack does not set. `secure:`
values cannot be decrypted without the CLI: they are reported as set, never read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ruamel.yaml import YAML

from .config import PROJECT, RINGS, ConfigError, SiteConfig, parse

ROOT = Path(__file__).resolve().parent.parent


class StackFileError(Exception):
    """A stack file that is missing or not valid YAML."""


def stack_names(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _load_yaml(path: Path) -> Any:
    try:
        return YAML(typ="safe").load(path.read_text())
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found") from None
    except Exception as e:  # ruamel raises several parser/scanner error types
        raise StackFileError(f"{path.name} is not valid YAML: {e}") from None


def read_raw(stack: str, root: Path = ROOT) -> tuple[dict[str, Any], set[str]]:
    """(config with full keys, keys whose value is `secure:`), Pulumi.yaml defaults applied."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(stack_names(root)) or "none"
        raise StackFileError(f"no stack file Pulumi.{stack}.yaml in {root} (stacks there: {known})")
    return merge(_load_yaml(path) or {}, _load_yaml(root / "Pulumi.yaml") or {}, path.name)


def merge(doc: Any, project: Any, where: str) -> tuple[dict[str, Any], set[str]]:
    """A stack document's config with the project's declared defaults filled in."""
    if not isinstance(doc, dict):
        raise StackFileError(f"{where}: must be a mapping with a 'config' key")
    cfg: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        if isinstance(decl, dict) and "default" in decl:
            cfg[f"{PROJECT}:{key}"] = decl["default"]
    secure = set()
    stack_cfg = doc.get("config") or {}
    if not isinstance(stack_cfg, dict):
        raise StackFileError(f"{where}: 'config' must be a mapping")
    for key, value in stack_cfg.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(key)
        cfg[key] = value
    return cfg, secure


def ring(config: Any, where: str) -> str:
    """The o3:site.ring of a stack's `config` mapping (default broad), checked.

    Read without validating the rest of the site, so that CI can group stacks by ring even
    while another key of one stack is being fixed; a ring that is not one of RINGS is an error
    that names the file, since a misspelt ring would silently drop the site from its rollout."""
    site = config.get("o3:site") if hasattr(config, "get") else None
    if site is None:
        return "broad"
    if not hasattr(site, "get"):
        raise StackFileError(f"{where}: o3:site must be a mapping of the site's settings")
    value = site.get("ring", "broad")
    if value not in RINGS:
        raise StackFileError(
            f"{where}: o3:site.ring is {value!r}, which is not a rollout ring: use one of {', '.join(RINGS)} (lower case)")
    return value


def load_stack_config(stack: str, root: Path = ROOT, secrets: Optional[dict[str, str]] = None) -> SiteConfig:
    """The stack's validated SiteConfig. Secure values are left out unless `secrets` supplies them."""
    return validate(*read_raw(stack, root), secrets)


def validate(cfg: dict[str, Any], secure: set[str], secrets: Optional[dict[str, str]] = None) -> SiteConfig:
    """SiteConfig from merged stack config (see merge); raises ConfigError."""
    prefix = f"{PROJECT}:"
    raw = {}
    for key, value in cfg.items():
        if key in secure:
            if secrets and key in secrets:
                value = secrets[key]
            else:
                continue
        if key.startswith(prefix):
            raw[key[len(prefix):]] = value
    return parse(raw, {k[len(prefix):] for k in secure}, cfg.get("docker:host"), cfg.get("docker:sshOpts"))


__all__ = ["ConfigError", "StackFileError", "load_stack_config", "merge", "read_raw", "ring", "stack_names", "validate"]
