"""The sizing rules' shared body: the vendor's table (sitespec.sizing) against the site facts."""

from __future__ import annotations

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, StackValidationPolicy

from sitespec import sizing
from sitespec.guide import KUBE_DATA_VOLUME

from . import _kube
from .common import config, num, site_facts


def kube_size(resources, host_key: str):
    """On Kubernetes, what stands for an o3:host value: (what it is, its value), or None when it
    has no counterpart (network) or is not known yet (preview)."""
    if host_key in ("cpuCores", "memoryGb"):
        cpu, mem, unknown = _kube.requested(resources)
        if unknown:
            return None
        return ("the pods request", cpu) if host_key == "cpuCores" else ("the pods request", mem)
    if host_key == "storageGb":
        gb = _kube.claim_gb(resources, KUBE_DATA_VOLUME)
        return None if gb is None else (f"the data volume {KUBE_DATA_VOLUME} has", gb)
    return None

# Config every sizing rule accepts; each rule reads the ones it needs.
SCHEMA = {
    "pathologyCoresPerUser": {"type": "number", "default": sizing.PATHOLOGY_CORES_PER_USER},
    "minStorageGb": {"type": "number", "default": sizing.MIN_STORAGE_GB},
    "minNetworkMbps": {"type": "number", "default": sizing.MIN_NETWORK_MBPS},
    "examsPerDayLimit": {"type": "integer", "default": sizing.EXAMS_PER_DAY_LIMIT},
}
DEFAULTS = {k: v["default"] for k, v in SCHEMA.items()}


def site_requirements(args: Any, report: Callable) -> tuple[str, dict[str, str], sizing.Requirements] | None:
    found = site_facts(args.resources)
    if found is None:
        report("no site-facts record (random RandomId `<site>-site-facts`) is registered: the program that "
               "registers it (components/docker/site.py, sitespec/facts.py) is needed for the sizing check")
        return None
    _, facts = found
    cfg = config(args, DEFAULTS)
    req = sizing.requirements(
        int(num(facts, "concurrentUsers")),
        facts.get("pathology") == "true",
        int(num(facts, "examsPerDay")),
        pathology_cores_per_user=float(cfg["pathologyCoresPerUser"]),
        min_storage_gb=float(cfg["minStorageGb"]),
        min_network_mbps=float(cfg["minNetworkMbps"]),
        exams_per_day_limit=int(cfg["examsPerDayLimit"]),
    )
    return facts["site"], facts, req


def host_rule(name: str, host_key: str, need: Callable[[sizing.Requirements], sizing.Need],
              level: EnforcementLevel, description: str, remediation: str) -> StackValidationPolicy:
    """A rule comparing one declared o3:host value with its minimum."""

    def validate(args: Any, report: Callable) -> None:
        got = site_requirements(args, report)
        if got is None:
            return
        site, facts, req = got
        if facts.get("platform") == "kubernetes":
            found = kube_size(args.resources, host_key)
            if found is None:
                return
            what, value = found
            finding = sizing.Finding(host_key, value, need(req))
            if finding.short:
                n = finding.need
                report(f"site {site}: {what} {sizing.fmt(value)} {n.unit}, {sizing.fmt(n.value)} {n.unit} required "
                       f"({n.reason}). Fix: deploy the site with components.kubernetes.site.KubeSite, whose requests "
                       "follow the table, or raise o3:kubernetes.storageGb.")
            return
        finding = sizing.Finding(host_key, num(facts, "host" + host_key[0].upper() + host_key[1:]), need(req))
        if finding.short:
            report(f"site {site}: o3:host.{finding.describe()}. {remediation}")

    return StackValidationPolicy(
        name=name,
        description=description,
        enforcement_level=level,
        validate=validate,
        config_schema=PolicyConfigSchema(properties=SCHEMA),
    )
