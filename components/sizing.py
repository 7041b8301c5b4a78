"""The vendor's sizing minimums, in one place: used by the program (a warning at preview), the
policy pack (enforcement) and people (`python -m components.sizing`).

From the guide's "Minimal hardware requirements":
  up to 10 concurrent users: 6 cores, 12 GB RAM; up to 20: 10 cores, 20 GB; up to 50: 18 cores,
  36 GB; above 50: +1 core and +4 GB per (started) 10 users. Digital pathology: 1.5 cores per
  concurrent user. The table holds for fewer than 150 exams a day (200 images each). At least
  50 GB of storage and 100 Mbit/s of network are recommended.

Standard library only: the policy pack imports this module in its own virtualenv.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

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
        verdict = f"short by {_fmt(self.need.value - self.found)} {self.need.unit}" if self.short else "ok"
        return (
            f"{self.key}: {_fmt(self.found)} {self.need.unit} declared, "
            f"{_fmt(self.need.value)} {self.need.unit} required ({self.need.reason}): {verdict}"
        )


def _fmt(x: float) -> str:
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
        path_cores = pathology_cores_per_user * users
        if path_cores > cores:
            core_need = Need(path_cores, "cores", f"digital pathology: {pathology_cores_per_user:g} cores x {users} users")
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


def _print_requirements(req: Requirements) -> None:
    print(f"  cores        {_fmt(req.cores.value):>6}   {req.cores.reason}")
    print(f"  memory GB    {_fmt(req.memory_gb.value):>6}   {req.memory_gb.reason}")
    print(f"  storage GB   {_fmt(req.storage_gb.value):>6}   {req.storage_gb.reason}")
    print(f"  network Mb/s {_fmt(req.network_mbps.value):>6}   {req.network_mbps.reason}")
    if req.high_exam_load:
        print(f"  note: {req.high_exam_load}")


def _check_stack(stack: str, root: Optional[str]) -> int:
    # Needs pydantic and ruamel.yaml: the program's virtualenv, not the policy pack's.
    from pathlib import Path

    from .config import ConfigError
    from .stackfile import ROOT, StackFileError, load_stack_config

    try:
        cfg = load_stack_config(stack, Path(root) if root else ROOT)
    except (StackFileError, ConfigError) as e:
        print(f"sizing: {e}", file=sys.stderr)
        return 2
    req, found = for_site(cfg)
    site = cfg.site
    print(f"site {site.name} (stack {stack}): {site.concurrent_users} users, pathology {'yes' if site.pathology else 'no'}, {site.exams_per_day} exams/day")
    _print_requirements(req)
    print("declared host:")
    failed = False
    for f in found:
        level = "FAIL" if f.short and f.key in MANDATORY else ("WARN" if f.short else "pass")
        failed |= level == "FAIL"
        print(f"  {level:4} {f.describe()}")
    if req.high_exam_load:
        print(f"  WARN {req.high_exam_load}")
    return 1 if failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m components.sizing",
        description="The vendor's minimum host size for an O3 PACS + VIEW site.",
    )
    p.add_argument("--users", type=int, help="concurrent users")
    p.add_argument("--pathology", action="store_true", help="digital pathology project")
    p.add_argument("--exams", type=int, default=0, help="exams per day (default 0)")
    p.add_argument("--stack", help="check the host declared in Pulumi.<stack>.yaml; exit 1 when it falls short")
    p.add_argument("--dir", help="folder holding the stack files (default: this project)")
    args = p.parse_args(argv)
    if args.stack:
        return _check_stack(args.stack, args.dir)
    if args.users is None:
        p.error("give --users N (or --stack NAME)")
    if args.users < 1:
        p.error("--users must be at least 1")
    req = requirements(args.users, args.pathology, args.exams)
    print(f"{args.users} concurrent users, pathology {'yes' if args.pathology else 'no'}, {args.exams} exams/day needs at least:")
    _print_requirements(req)
    return 0


if __name__ == "__main__":
    sys.exit(main())
