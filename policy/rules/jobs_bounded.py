"""Every one-off and scheduled job (the schema step, the pre-upgrade and nightly dumps) has a
deadline and requests: a hung dump is ended, so the next night runs, and a job takes no more of a
node than the scheduler reserved. Kubernetes only: on Docker the dumps run inside o3-maintenance,
whose script bounds them."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts

from ._rule import Report, Rule

REMEDIATION = ("on Kubernetes, give the Job (or the CronJob's jobTemplate) an activeDeadlineSeconds and each of "
               "its containers resources.requests.")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for w in site.workloads:
        if w.unbounded_job:
            report(f"{w.title} {w.unbounded_job}. Fix: {REMEDIATION}", w.urn)


RULE = Rule(
    name="o3-jobs-bounded",
    enforcement=EnforcementLevel.MANDATORY,
    description="Every Job and CronJob has an activeDeadlineSeconds and requests (Kubernetes).",
    remediation=REMEDIATION,
    check=check,
    per_resource=True,
)
