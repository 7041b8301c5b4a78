"""With the HTTPS front door on, VIEW and the PACS web port are not also served in clear text
to the network."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts
from sitespec.guide import PACS_HTTP_PORT, PROXY_CONTAINER, VIEW_HTTP_PORT

from ._rule import Report, Rule

PLAIN = {PACS_HTTP_PORT, VIEW_HTTP_PORT}
REMEDIATION = ("serve the plain ports inside the site only: on Docker, publish them on 127.0.0.1; on Kubernetes, "
               "in no NodePort or LoadBalancer Service (the program does both when o3:tls.enabled is true).")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    if not any(w.running and w.name == PROXY_CONTAINER for w in site.workloads):
        return
    for p in site.published:
        plain = PLAIN & set(p.ports)
        if plain and p.scope != "loopback":
            report(f"{p.how.format(port=f'plain HTTP port {min(plain)}')} while the HTTPS front door "
                   f"({PROXY_CONTAINER}) is on: patient data would still cross the network in clear text. Fix: {REMEDIATION}",
                   p.urn)


RULE = Rule(
    name="o3-tls-no-plain-ports",
    enforcement=EnforcementLevel.MANDATORY,
    description="With TLS enabled, the apps' plain HTTP ports are not served beyond the site.",
    remediation=REMEDIATION,
    check=check,
)
