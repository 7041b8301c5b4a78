"""Every container's log is bounded: a full disk stops the archive.

On Kubernetes a container's log is the kubelet's (its containerLogMaxSize and
containerLogMaxFiles, node settings the cluster's administrators own): no pod spec can bound it,
so the adapter reports no unbounded log there. The apps' own log folders on the data volume are
pruned nightly (o3:logs.retainDays), by o3-maintenance on Docker and a CronJob on Kubernetes."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts

from ._rule import Report, Rule

REMEDIATION = "set o3:logs.maxSizeMb and o3:logs.maxFiles (the program sets both)."


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for w in site.workloads:
        if w.unbounded_log:
            report(f"{w.title} {w.unbounded_log}: its log grows until the disk is full. Fix: {REMEDIATION}", w.urn)


RULE = Rule(
    name="o3-log-limits",
    enforcement=EnforcementLevel.MANDATORY,
    description="Every container's Docker log has a size limit and a file count (on Kubernetes the kubelet bounds them).",
    remediation=REMEDIATION,
    check=check,
    per_resource=True,
)
