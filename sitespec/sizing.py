"""The vendor's sizing minimums, in one place: used by the program (a warning at preview), the
policy pack (enforcement) and people (`python -m ops.sizing`).

From the guide's "Minimal hardware requirements":
  up to 10 concurrent users: 6 cores, 12 GB RAM; up to 20: 10 cores, 20 GB; up to 50: 18 cores,
  36 GB; above 50: +1 core and +4 GB per (started) 10 users. Digital pathology: 1.5 cores per
  concurrent user. The table holds for fewer than 150 exams a day (200 images each). At least
  50 GB of storage and 100 Mbit/s of network are recommended.

Standard library only: the policy pack imports this module in its own virtualenv.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

# (max concurrent users, cores, memory GB): a count between two rows needs the higher row.
TABLE: tuple[tuple[int, int, int], ...] = ((10, 6, 12), (20, 10, 20), (50, 18, 36))
PER_10_USERS_ABOVE = (1, 4)  # cores, GB for every started 10 users beyond the last row
PATHOLOGY_CORES_PER_USER = 1.5
MIN_STORAGE_GB = 50.0
MIN_NETWORK_MBPS = 100.0
EXAMS_PER_DAY_LIMIT = 150  # the table holds for fewer than this many exams a day


@dataclass(frozen=True)
class Need:
    """One minimum and the rule that produced it."""

    value: float
    unit: str
    reason: str


@dataclass(frozen=True)
class Requirements:
    cores: Need
    memory_gb: Need
    storage_gb: Need
    network_mbps: Need
    high_exam_load: Optional[str]
    """Set (to the explanation) when the exam load is beyond what the table covers."""


@dataclass(frozen=True)
class Finding:
    """A declared host value measured against a minimum."""

    key: str  # o3:host field
    found: float
    need: Need

    @property
    def short(self) -> bool:
        return self.found < self.need.value

    def describe(self) -> str:
        verdict = f"short by {fmt(self.need.value - self.found)} {self.need.unit}" if self.short else "ok"
        return (
            f"{self.key}: {fmt(self.found)} {self.need.unit} declared, "
            f"{fmt(self.need.value)} {self.need.unit} required ({self.need.reason}): {verdict}"
        )


def fmt(x: float) -> str:
    """A number as the tables print it: no trailing '.0'."""
    return f"{x:g}"


def requirements(
    users: int,
    pathology: bool = False,
    exams_per_day: int = 0,
    *,
    pathology_cores_per_user: float = PATHOLOGY_CORES_PER_USER,
    min_storage_gb: float = MIN_STORAGE_GB,
    min_network_mbps: float = MIN_NETWORK_MBPS,
    exams_per_day_limit: int = EXAMS_PER_DAY_LIMIT,
) -> Requirements:
    """The vendor's minimums for a site; thresholds other than the table are overridable."""
    if users < 1:
        raise ValueError("concurrent users must be at least 1")
    for max_users, cores, mem in TABLE:
        if users <= max_users:
            row = f"table row 'up to {max_users} users'"
            break
    else:
        max_users, cores, mem = TABLE[-1]
        steps = math.ceil((users - max_users) / 10)
        cores += steps * PER_10_USERS_ABOVE[0]
        mem += steps * PER_10_USERS_ABOVE[1]
        row = (
            f"table row '{max_users}+ users': {TABLE[-1][1]} cores/{TABLE[-1][2]} GB "
            f"+ {steps} x (+{PER_10_USERS_ABOVE[0]} core, +{PER_10_USERS_ABOVE[1]} GB) per started 10 users"
        )
    core_need = Need(float(cores), "cores", f"{users} users, {row}")
    if pathology:
        exact = pathology_cores_per_user * users
        # Cores come whole: 1.5 x 35 = 52.5 means a host with 53.
        path_cores = math.ceil(exact - 1e-9)
        if path_cores > cores:
            rounding = f" = {exact:g}, rounded up to whole cores" if path_cores != exact else ""
            core_need = Need(float(path_cores), "cores",
                             f"digital pathology: {pathology_cores_per_user:g} cores x {users} users{rounding}")
        else:
            core_need = Need(float(cores), "cores", f"{users} users, {row} (pathology needs only {path_cores:g})")
    high = None
    if exams_per_day >= exams_per_day_limit:
        high = (
            f"{exams_per_day} exams/day: the vendor's table holds for fewer than {exams_per_day_limit} exams a day "
            "of 200 images; give the PACS more resources than the minimums"
        )
    return Requirements(
        cores=core_need,
        memory_gb=Need(float(mem), "GB RAM", f"{users} users, {row}"),
        storage_gb=Need(float(min_storage_gb), "GB storage", "vendor's recommended minimum"),
        network_mbps=Need(float(min_network_mbps), "Mbit/s", "vendor's recommended minimum"),
        high_exam_load=high,
    )


def findings(req: Requirements, cpu_cores: float, memory_gb: float, storage_gb: float, network_mbps: float) -> list[Finding]:
    """Each declared host value against its minimum, in the o3:host order."""
    return [
        Finding("cpuCores", cpu_cores, req.cores),
        Finding("memoryGb", memory_gb, req.memory_gb),
        Finding("storageGb", storage_gb, req.storage_gb),
        Finding("networkMbps", network_mbps, req.network_mbps),
    ]


# Findings that make a deployment refuse (the policy pack's defaults) vs. only warn.
MANDATORY = ("cpuCores", "memoryGb", "storageGb")


def for_site(cfg) -> tuple[Requirements, list[Finding]]:
    """Requirements and findings for a validated SiteConfig."""
    s, h = cfg.site, cfg.host
    req = requirements(s.concurrent_users, s.pathology, s.exams_per_day)
    return req, findings(req, h.cpu_cores, h.memory_gb, h.storage_gb, h.network_mbps)
