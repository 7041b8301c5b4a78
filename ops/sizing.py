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

from sitespec.sizing import MANDATORY, Requirements, fmt, for_site, requirements
from sitespec.stackfile import load_stack_config

from ._cli import add_dir_argument, non_negative_int, positive_int, run


def _print_requirements(req: Requirements) -> None:
    print(f"  cores        {fmt(req.cores.value):>6}   {req.cores.reason}")
    print(f"  memory GB    {fmt(req.memory_gb.value):>6}   {req.memory_gb.reason}")
    print(f"  storage GB   {fmt(req.storage_gb.value):>6}   {req.storage_gb.reason}")
    print(f"  network Mb/s {fmt(req.network_mbps.value):>6}   {req.network_mbps.reason}")
    if req.high_exam_load:
        print(f"  note: {req.high_exam_load}")


def _check_stack(stack: str, root: Path) -> int:
    cfg = load_stack_config(stack, root)
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


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ops.sizing",
        description="The vendor's minimum host size for an O3 PACS + VIEW site. Pathology cores are "
        "rounded up to whole cores.",
    )
    p.add_argument("--users", type=positive_int, help="concurrent users (at least 1)")
    p.add_argument("--pathology", action="store_true", help="digital pathology project")
    p.add_argument("--exams", type=non_negative_int, help="exams per day (default 0)")
    p.add_argument("--stack", help="check the host declared in Pulumi.<stack>.yaml; exit 1 when it falls short")
    add_dir_argument(p)
    args = p.parse_args(argv)
    if args.stack:
        given = [f for f, v in (("--users", args.users), ("--pathology", args.pathology), ("--exams", args.exams))
                 if v not in (None, False)]
        if given:
            p.error(f"{', '.join(given)} cannot be combined with --stack: the stack file declares the site's users, "
                    "pathology and exams; give either --stack or the site's numbers")
        return _check_stack(args.stack, args.dir)
    if args.users is None:
        p.error("give --users N (or --stack NAME)")
    exams = args.exams or 0
    req = requirements(args.users, args.pathology, exams)
    print(f"{args.users} concurrent users, pathology {'yes' if args.pathology else 'no'}, {exams} exams/day needs at least:")
    _print_requirements(req)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "sizing", argv)


if __name__ == "__main__":
    sys.exit(main())
