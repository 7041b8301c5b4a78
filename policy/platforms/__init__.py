"""The platforms' adapters: each turns what the engine sends into the site facts the rules read
(sitespec.facts), so no rule knows which platform it checks."""

from __future__ import annotations

from typing import Any, Iterable

from sitespec.facts import SiteFacts

from . import docker, kubernetes


def extract(resources: Iterable[Any]) -> SiteFacts:
    """The site facts of `resources` (a stack, or the one resource a resource rule sees)."""
    resources = list(resources)
    adapter = kubernetes if kubernetes.is_kubernetes(resources) else docker
    return adapter.extract(resources)
