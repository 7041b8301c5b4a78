"""Every container drops every Linux capability and adds back only what its image needs to start
(the database's and the front door's entrypoints step down from root: components/kubernetes/
hardening.py says which and why). Kubernetes only, as o3-no-privilege-escalation."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts

from ._rule import Report, Rule

ALLOWED = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"]
REMEDIATION = ("on Kubernetes, set the container's securityContext capabilities: {drop: [ALL]} and add back only "
               "what the image needs, within the rule's allowedCapabilities.")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    allowed = set(cfg["allowedCapabilities"])
    for w in site.workloads:
        for c in w.containers:
            k = c.confinement
            if k is None:
                continue
            if not k.dropped_all:
                report(f"{w.title}: container '{c.name}' keeps the runtime's default capabilities (no drop ALL). "
                       f"Fix: {REMEDIATION}", w.urn)
            extra = sorted({a.upper().removeprefix("CAP_") for a in k.added} - allowed)
            if extra:
                report(f"{w.title}: container '{c.name}' adds {', '.join(extra)}, not in {sorted(allowed)}. "
                       f"Fix: {REMEDIATION}", w.urn)


RULE = Rule(
    name="o3-capabilities-dropped",
    enforcement=EnforcementLevel.MANDATORY,
    description="Every container drops all capabilities and adds back only allowed ones (Kubernetes).",
    remediation=REMEDIATION,
    check=check,
    per_resource=True,
    config={"allowedCapabilities": {"type": "array", "items": {"type": "string"}, "default": ALLOWED}},
)
