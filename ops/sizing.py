"""The vendor's minimum host size for a site, or a stack's declared host against it.

    python -m ops.sizing --users 35 [--pathology] [--exams 120]
    python -m ops.sizing --stack st-marys        # exit 1 when the declared host is short

The table itself lives in `sitespec.sizing`, shared with the program and the policy pack.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from sitespec.config import ConfigError
from sitespec.sizing import MANDATORY, Requirements, fmt, for_site, requirements
from sitespec.stackfile import ROOT, StackFileError, load_stack_config


def _print_requirements(req: Requirements) -> None:
    print(f"  cores        {fmt(req.cores.value):>6}   {req.cores.reason}")
    print(f"  memory GB    {fmt(req.memory_gb.value):>6}   {req.memory_gb.reason}")
    print(f"  storage GB   {fmt(req.storage_gb.value):>6}   {req.storage_gb.reason}")
    print(f"  network Mb/s {fmt(req.network_mbps.value):>6}   {req.network_mbps.reason}")
    if req.high_exam_load:
        print(f"  note: {req.high_exam_load}")


def _check_stack(stack: str, root: Optional[str]) -> int:
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
        prog="python -m ops.sizing",
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
