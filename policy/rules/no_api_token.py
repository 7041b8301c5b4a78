"""No pod of the site gets a credential for the cluster's API: nothing in the site talks to it, and
a mounted service-account token is what an intruder in a pod would use next. Kubernetes only (a
Docker container gets no such credential)."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts

from ._rule import Report, Rule

REMEDIATION = "on Kubernetes, set the pod spec's automountServiceAccountToken: false."


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for w in site.workloads:
        if w.api_token:
            report(f"{w.title}: its pods get the service account's API token mounted. Fix: {REMEDIATION}", w.urn)


RULE = Rule(
    name="o3-no-api-token",
    enforcement=EnforcementLevel.MANDATORY,
    description="No pod gets a service-account token for the cluster's API (Kubernetes).",
    remediation=REMEDIATION,
    check=check,
    per_resource=True,
)
