"""The site's namespace denies by default, and MySQL's port admits only the pods named as its
clients. Kubernetes only: a Docker site's db is on the site's own bridge network (o3net), which
only the site's containers join (o3-mysql-port-private covers its published port)."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts

from ._rule import Report, Rule

REMEDIATION = ("on Kubernetes, a NetworkPolicy over every pod ({podSelector: {}}, policyTypes Ingress and Egress, "
               "no rules) and one over db that admits 3306 only `from` the client pods (the program makes both).")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    iso = site.isolation
    if iso is None:
        return
    if not iso.default_deny:
        report(f"no NetworkPolicy denies by default: every pod of the cluster may reach the site's pods. Fix: {REMEDIATION}")
    if not iso.db_guarded:
        report(f"no NetworkPolicy selects db for ingress: any pod may reach MySQL's port. Fix: {REMEDIATION}")
    for what in iso.db_open:
        report(f"{what} on MySQL's port. Fix: {REMEDIATION}")


RULE = Rule(
    name="o3-network-isolation",
    enforcement=EnforcementLevel.MANDATORY,
    description="The site's namespace denies by default and MySQL admits only its clients (Kubernetes).",
    remediation=REMEDIATION,
    check=check,
)
