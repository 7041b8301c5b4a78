"""Exactly one `pacs-singleton` runs the periodic services, as one copy that a rollout never
doubles; nothing else sets them."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts
from sitespec.guide import PERIODIC_SERVICES_ENV as PERIODIC
from sitespec.guide import SINGLETON_CONTAINER as SINGLETON

from ._rule import Report, Rule

REMEDIATION = (f"deploy the site with the program (components/docker/site.py or components/kubernetes/site.py), "
               f"which runs one '{SINGLETON}' with {PERIODIC}=true, of one replica, recreated on a rollout.")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    singles = [w for w in site.workloads if w.running and w.name == SINGLETON]
    if len(singles) != 1:
        report(f"expected exactly one workload '{SINGLETON}', found {len(singles)}. Fix: {REMEDIATION}")
    for w in site.workloads:
        for c in w.containers:
            if c.env is None:  # not known until the update (e.g. a new generated password); checked then
                continue
            periodic = c.env.get(PERIODIC)
            if w.name == SINGLETON and periodic != "true":
                report(f"'{SINGLETON}' does not set {PERIODIC}=true: the periodic services would not run.", w.urn)
            if w.name != SINGLETON and periodic is not None:
                report(f"{w.title} sets {PERIODIC}={periodic}: only '{SINGLETON}' may, or the periodic jobs run "
                       "twice. Fix: remove it from o3:extraEnv.", w.urn)
    for w in singles:
        if w.replicas != 1:
            report(f"'{SINGLETON}' runs {w.replicas:g} replicas: the periodic jobs would run {w.replicas:g} times.", w.urn)
        if w.overlapping_rollout:
            report(f"'{SINGLETON}' rolls out with {w.overlapping_rollout}: a rollout would run two at once. "
                   "Fix: strategy Recreate.", w.urn)


RULE = Rule(
    name="o3-periodic-singleton",
    enforcement=EnforcementLevel.MANDATORY,
    description="The PACS periodic services run in exactly one container, pacs-singleton.",
    remediation=REMEDIATION,
    check=check,
)
