"""No process of the site may gain privileges it did not start with (setuid files, a privileged
container). Kubernetes only: a Docker site's containers keep the guide's Docker defaults (their
facts carry no confinement), as the vendor's compose file runs them."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts

from ._rule import Report, Rule

REMEDIATION = ("on Kubernetes, set the container's securityContext allowPrivilegeEscalation: false and leave "
               "privileged unset (the program does, components/kubernetes/hardening.py).")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for w in site.workloads:
        for c in w.containers:
            if c.confinement is not None and c.confinement.escalation:
                report(f"{w.title}: container '{c.name}' may gain privileges (allowPrivilegeEscalation is not false, "
                       f"or it is privileged). Fix: {REMEDIATION}", w.urn)


RULE = Rule(
    name="o3-no-privilege-escalation",
    enforcement=EnforcementLevel.MANDATORY,
    description="No container may gain privileges it did not start with (Kubernetes).",
    remediation=REMEDIATION,
    check=check,
    per_resource=True,
)
