"""The sizing rules' shared body: the vendor's table (sitespec.sizing) against what the site has
(sitespec.facts.Capacity: the declared host on Docker, the pods' requests and the data volume on
Kubernetes)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from pulumi_policy import EnforcementLevel

from sitespec import sizing
from sitespec.facts import Record, SiteFacts

from ._rule import Report, Rule

# The thresholds besides the table; a rule offers the ones it reads as its config.
CONFIG = {
    "pathologyCoresPerUser": {"type": "number", "default": sizing.PATHOLOGY_CORES_PER_USER},
    "minStorageGb": {"type": "number", "default": sizing.MIN_STORAGE_GB},
    "minNetworkMbps": {"type": "number", "default": sizing.MIN_NETWORK_MBPS},
    "examsPerDayLimit": {"type": "integer", "default": sizing.EXAMS_PER_DAY_LIMIT},
}
DEFAULTS = {k: v["default"] for k, v in CONFIG.items()}
NO_RECORD = ("no site-facts record (random RandomId `<site>-site-facts`) is registered: the program that registers it "
             "(components/*/site.py, sitespec/facts.py) is needed for the sizing check")


def requirements(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> Optional[tuple[Record, sizing.Requirements]]:
    """The site's record and what the table requires of it; reports a missing record."""
    if site.record is None:
        report(NO_RECORD)
        return None
    cfg = {**DEFAULTS, **cfg}
    r = site.record
    return r, sizing.requirements(
        r.concurrent_users, r.pathology, r.exams_per_day,
        pathology_cores_per_user=float(cfg["pathologyCoresPerUser"]),
        min_storage_gb=float(cfg["minStorageGb"]),
        min_network_mbps=float(cfg["minNetworkMbps"]),
        exams_per_day_limit=int(cfg["examsPerDayLimit"]),
    )


def host_rule(name: str, host_key: str, need: Callable[[sizing.Requirements], sizing.Need], level: EnforcementLevel,
              description: str, remediation: str, config: tuple[str, ...] = ()) -> Rule:
    """A rule comparing what the site has of one o3:host dimension with its minimum. A figure the
    platform does not have (a Kubernetes site's network) or does not know yet (preview) is not
    checked; a value that cannot be read is a violation naming it, never counted as 0."""

    def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
        got = requirements(site, report, cfg)
        has = site.capacity.get(host_key)
        if got is None or has is None:
            return
        record, req = got
        n = need(req)
        for problem in has.unreadable:
            report(f"site {record.site}: {problem}, so the site's {n.unit} cannot be checked. "
                   "Fix: write it as a Kubernetes quantity (e.g. 500m, 2, 12Gi, 100G).")
        if has.unreadable:
            return
        finding = sizing.Finding(host_key, has.value, n)
        if finding.short:
            said = has.said.format(f"{sizing.fmt(has.value)} {n.unit}")
            report(f"site {record.site}: {said}, {sizing.fmt(n.value)} {n.unit} required ({n.reason}): short by "
                   f"{sizing.fmt(n.value - has.value)} {n.unit}. Fix: {remediation}")

    return Rule(name, level, description, remediation, check, config={k: CONFIG[k] for k in config} or None)
