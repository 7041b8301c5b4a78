"""The fleet on a Monday morning: every site's ring, versions, load and host size vs the minimums.

    python -m ops.fleet [--json] [--dir D]

Reads every Pulumi.<site>.yaml (no Pulumi CLI needed). Exits 1 when a stack file cannot be
read or validated (its row says why) or a host is short of a mandatory minimum.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from sitespec import sizing
from sitespec.config import ConfigError
from sitespec.imageref import version_of
from sitespec.stackfile import ROOT, StackFileError, load_stack_config, stack_names


def row(stack: str, root: Path) -> dict[str, Any]:
    try:
        cfg = load_stack_config(stack, root)
    except (StackFileError, ConfigError) as e:
        return {"stack": stack, "error": str(e)}
    req, found = sizing.for_site(cfg)
    short = [f for f in found if f.short]
    mandatory_short = [f for f in short if f.key in sizing.MANDATORY]
    return {
        "stack": stack,
        "site": cfg.site.name,
        "ring": cfg.site.ring,
        "versions": {"pacs": version_of(cfg.images.pacs), "view": version_of(cfg.images.view), "db": version_of(cfg.images.db)},
        "users": cfg.site.concurrent_users,
        "pathology": cfg.site.pathology,
        "examsPerDay": cfg.site.exams_per_day,
        "host": {"cpuCores": cfg.host.cpu_cores, "memoryGb": cfg.host.memory_gb, "storageGb": cfg.host.storage_gb,
                 "networkMbps": cfg.host.network_mbps},
        "minimum": {"cpuCores": req.cores.value, "memoryGb": req.memory_gb.value, "storageGb": req.storage_gb.value,
                    "networkMbps": req.network_mbps.value},
        "sizing": "short" if mandatory_short else ("warn" if short or req.high_exam_load else "pass"),
        "shortBy": {f.key: round(f.need.value - f.found, 2) for f in short},
    }


def _fmt_host(h: dict[str, float]) -> str:
    return f"{h['cpuCores']:g}c/{h['memoryGb']:g}G/{h['storageGb']:g}G"


def table(rows: list[dict[str, Any]]) -> str:
    head = ["site", "ring", "pacs", "view", "db", "users", "patho", "host c/RAM/disk", "minimum", "sizing"]
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append([r["stack"], "-", "-", "-", "-", "-", "-", "-", "-", "ERROR: " + r["error"].splitlines()[0]])
            continue
        verdict = r["sizing"]
        if r["shortBy"]:
            verdict += " (" + ", ".join(f"{k} -{v:g}" for k, v in r["shortBy"].items()) + ")"
        lines.append([r["site"], r["ring"], r["versions"]["pacs"], r["versions"]["view"], r["versions"]["db"],
                      str(r["users"]), "yes" if r["pathology"] else "no", _fmt_host(r["host"]), _fmt_host(r["minimum"]),
                      verdict])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)) + "  " + line[-1] for line in lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.fleet", description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", help="folder holding the stack files (default: this project)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    root = Path(args.dir) if args.dir else ROOT
    rows = [row(s, root) for s in stack_names(root)]
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 1 if any("error" in r or r["sizing"] == "short" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
