"""Every container runs under the container runtime's default seccomp profile (or one the
cluster's administrators installed), never Unconfined, which is Kubernetes' default. Kubernetes
only: Docker applies its default profile unless told otherwise, and the program never does."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts

from ._rule import Report, Rule

REMEDIATION = "on Kubernetes, set the pod's securityContext seccompProfile: {type: RuntimeDefault}."


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for w in site.workloads:
        for c in w.containers:
            k = c.confinement
            if k is not None and k.seccomp not in ("RuntimeDefault", "Localhost"):
                report(f"{w.title}: container '{c.name}' runs without a seccomp profile ({k.seccomp or 'not set'}: "
                       f"Unconfined). Fix: {REMEDIATION}", w.urn)


RULE = Rule(
    name="o3-seccomp-runtime-default",
    enforcement=EnforcementLevel.MANDATORY,
    description="Every container runs under a seccomp profile, RuntimeDefault or Localhost (Kubernetes).",
    remediation=REMEDIATION,
    check=check,
    per_resource=True,
)
