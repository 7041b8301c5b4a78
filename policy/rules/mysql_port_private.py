"""MySQL's port is not reachable from every network the site is on (the vendor's compose file
publishes it on all interfaces)."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts
from sitespec.guide import DB_CONTAINER, MYSQL_PORT

from ._rule import Report, Rule

REMEDIATION = ("on Docker, o3:database.publish 'off' (default), 'loopback' or one admin address; on Kubernetes, "
               "a Service of type ClusterIP (the program's `db`).")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for p in site.published:
        if p.scope == "everywhere" and (p.service == DB_CONTAINER or MYSQL_PORT in p.ports):
            port = MYSQL_PORT if MYSQL_PORT in p.ports or not p.ports else min(p.ports)
            report(f"{p.how.format(port=f'MySQL port {port}')}: anyone on the network can try its password. "
                   f"Fix: {REMEDIATION}", p.urn)


RULE = Rule(
    name="o3-mysql-port-private",
    enforcement=EnforcementLevel.ADVISORY,
    description="The MySQL port is not reachable from every network the site is on.",
    remediation=REMEDIATION,
    check=check,
    per_resource=True,
)
