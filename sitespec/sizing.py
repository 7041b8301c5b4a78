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
    """Requirements and findings for a validated SiteConfig: the declared host on Docker; on
    Kubernetes the pods' requests (kube_plan) and the data volume's size (no network figure)."""
    s, h = cfg.site, cfg.host
    req = requirements(s.concurrent_users, s.pathology, s.exams_per_day)
    if cfg.platform == "kubernetes":
        k = cfg.kubernetes
        plan = kube_plan(req, s.concurrent_users, k.replicas.pacs, k.replicas.view, external_db=bool(k.database.external_host))
        return req, [Finding("cpuCores", plan.total_cores, req.cores), Finding("memoryGb", plan.total_memory_gb, req.memory_gb),
                     Finding("storageGb", float(k.storage_gb), req.storage_gb)]
    return req, findings(req, h.cpu_cores, h.memory_gb, h.storage_gb, h.network_mbps)


# --- Kubernetes: the table's minimum split into pod requests ----------------------------------
# One pacs and one view replica per started USERS_PER_REPLICA concurrent users, at least
# MIN_REPLICAS (a rolling upgrade or a lost node then never takes a role away). The site's
# minimum cores and memory are shared out by role (each share over that role's replicas, rounded
# up), so the sum of the site's requests is at least the table's minimum.
USERS_PER_REPLICA = 25
MIN_REPLICAS = 2
SHARES = {"db": 0.2, "pacs-singleton": 0.1, "pacs": 0.4, "view": 0.3}


@dataclass(frozen=True)
class PodRequest:
    """What one pod of a role requests."""

    cpu_millis: int
    memory_mib: int

    @property
    def cpu(self) -> str:
        return f"{self.cpu_millis}m"

    @property
    def memory(self) -> str:
        return f"{self.memory_mib}Mi"


@dataclass(frozen=True)
class KubePlan:
    replicas: dict[str, int]
    """Pods per role: pacs, view, pacs-singleton (always 1), db (0 with an external MySQL)."""
    requests: dict[str, PodRequest]
    """Requests of one pod, per role that runs."""

    @property
    def total_cores(self) -> float:
        return sum(self.requests[r].cpu_millis * n for r, n in self.replicas.items() if n) / 1000

    @property
    def total_memory_gb(self) -> float:
        return sum(self.requests[r].memory_mib * n for r, n in self.replicas.items() if n) / 1024


def default_replicas(users: int) -> int:
    return max(MIN_REPLICAS, math.ceil(users / USERS_PER_REPLICA))


def kube_plan(req: Requirements, users: int, pacs: Optional[int] = None, view: Optional[int] = None,
              external_db: bool = False) -> KubePlan:
    """Replicas (given, or from the users) and per-pod requests whose sum meets `req`."""
    replicas = {"pacs": pacs or default_replicas(users), "view": view or default_replicas(users),
                "pacs-singleton": 1, "db": 0 if external_db else 1}
    shares = {r: s for r, s in SHARES.items() if replicas[r]}
    scale = 1 / sum(shares.values())  # an external MySQL's share goes to the apps
    def up(x: float) -> int:  # rounded up, without float noise (0.2 x 6000 is 1200, not 1201)
        return math.ceil(round(x, 6))

    requests = {
        role: PodRequest(up(share * scale * req.cores.value * 1000 / replicas[role]),
                         up(share * scale * req.memory_gb.value * 1024 / replicas[role]))
        for role, share in shares.items()
    }
    return KubePlan(replicas, requests)
