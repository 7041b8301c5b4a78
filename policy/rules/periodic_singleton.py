"""Exactly one `pacs-singleton` runs the periodic services; no other container does."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from sitespec.guide import PERIODIC_SERVICES_ENV as PERIODIC
from sitespec.guide import SINGLETON_CONTAINER as SINGLETON

from .common import containers, env_map, known


def validate(args: Any, report: Callable) -> None:
    cs = containers(args.resources)
    singletons = [c for c in cs if known(c.props, "name") == SINGLETON]
    if len(singletons) != 1:
        report(f"expected exactly one '{SINGLETON}' container, found {len(singletons)}. "
               "Fix: deploy the site with components.site.O3Site, which registers one.")
    for c in cs:
        env = env_map(c)
        if env is None:  # not known until the update (e.g. a new generated password); checked then
            continue
        periodic = env.get(PERIODIC)
        name = known(c.props, "name")
        if name == SINGLETON and periodic != "true":
            report(f"'{SINGLETON}' does not set {PERIODIC}=true: the periodic services would not run.", c.urn)
        if name != SINGLETON and periodic is not None:
            report(f"container '{name}' sets {PERIODIC}={periodic}: only '{SINGLETON}' may, or the "
                   "periodic jobs run twice. Fix: remove it from o3:extraEnv.", c.urn)


POLICY = StackValidationPolicy(
    name="o3-periodic-singleton",
    description="The PACS periodic services run in exactly one container, pacs-singleton.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
