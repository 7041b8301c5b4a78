"""The fleet on a Monday morning: every stack's site, ring, versions, load and host size vs the minimums.

    python -m ops.fleet [--json] [--dir D] [--declared-only]

Reads every Pulumi.<site>.yaml. The versions deployed come from each stack's `images` output
through the `pulumi` CLI (the state backend you are logged in to); when it cannot read them the
row says why, and --declared-only skips this. Exits 1 when a stack file cannot be read or
validated (its row says why), a host is short of a mandatory minimum, or two stacks deploy to
the same Docker host (they would fight over the container names db/pacs/view and the ports).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from urllib.parse import urlparse

from sitespec import sizing
from sitespec.config import ConfigError
from sitespec.imageref import version_of
from sitespec.stackfile import StackFileError, load_stack_config, stack_names

from ._cli import OpsError, add_dir_argument, run


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
        "dockerHost": cfg.docker_host,
        "namespace": (cfg.kubernetes.namespace or cfg.site.name) if cfg.kubernetes else None,
        "ring": cfg.site.ring,
        "versions": {"pacs": version_of(cfg.images.pacs), "view": version_of(cfg.images.view), "db": version_of(cfg.images.db)},
        "users": cfg.site.concurrent_users,
        "pathology": cfg.site.pathology,
        "examsPerDay": cfg.site.exams_per_day,
        "platform": cfg.platform,
        # on Kubernetes: what the site's pods request in all, and its data volume
        "host": ({f.key: round(f.found, 2) for f in found} if cfg.platform == "kubernetes" else
                 {"cpuCores": cfg.host.cpu_cores, "memoryGb": cfg.host.memory_gb, "storageGb": cfg.host.storage_gb,
                  "networkMbps": cfg.host.network_mbps}),
        "minimum": {"cpuCores": req.cores.value, "memoryGb": req.memory_gb.value, "storageGb": req.storage_gb.value,
                    "networkMbps": req.network_mbps.value},
        "sizing": "short" if mandatory_short else ("warn" if short or req.high_exam_load else "pass"),
        "shortBy": {f.key: round(f.need.value - f.found, 2) for f in short},
    }


COMPONENTS = ("pacs", "view", "db")


def deployed_images(stack: str, root: Path) -> tuple[Optional[dict[str, str]], Optional[str]]:
    """(the stack's `images` output, None) or (None, why it cannot be read)."""
    if not shutil.which("pulumi"):
        return None, "no pulumi CLI on this machine"
    try:
        out = subprocess.run(["pulumi", "stack", "output", "images", "--json", "--stack", stack, "--non-interactive"],
                             cwd=root, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "the pulumi CLI did not answer within 120 s"
    if out.returncode != 0:
        said = next((line for line in out.stderr.splitlines() if line.strip()), "the pulumi CLI failed")
        if "does not have output property" in said:
            said = "no `images` output (never deployed, or by an older version of the program)"
        return None, said.removeprefix("error: ")
    try:
        images = json.loads(out.stdout)
    except ValueError:
        return None, "the pulumi CLI answered something that is not JSON"
    return {k: str(v) for k, v in images.items()}, None


def add_deployed(r: dict[str, Any], root: Path) -> None:
    images, why = deployed_images(r["stack"], root)
    if images is None:
        r["deployed"] = None
        r["deployedUnknown"] = why
        return
    r["deployed"] = {c: version_of(images[c]) for c in COMPONENTS if c in images}
    r["behind"] = {c: {"deployed": r["deployed"].get(c), "declared": r["versions"][c]}
                   for c in COMPONENTS if r["deployed"].get(c) != r["versions"][c]}


def _fmt_deployed(r: dict[str, Any]) -> str:
    if "deployed" not in r:
        return "-"
    if r["deployed"] is None:
        return f"unknown: {r['deployedUnknown']}"
    if not r["behind"]:
        return "as declared"
    return ", ".join(f"{c} {v['deployed'] or 'none'} (declared {v['declared']})" for c, v in r["behind"].items())


def host_key(docker_host: Optional[str]) -> str:
    """Which daemon a docker:host reaches: user and scheme do not matter, host and port do."""
    if not docker_host:
        return "the local Docker (no docker:host)"
    u = urlparse(docker_host)
    if u.scheme == "unix":
        return f"unix://{u.path}"
    port = u.port or {"ssh": 22, "tcp": 2375}.get(u.scheme)
    return f"{(u.hostname or '').lower()}:{port}"


def mark_shared_hosts(rows: list[dict[str, Any]]) -> None:
    """Add `sharesHostWith` to rows whose stacks deploy to the same Docker host."""
    by_host: dict[str, list[str]] = {}
    for r in rows:
        if "error" not in r and r["platform"] == "docker":
            by_host.setdefault(host_key(r["dockerHost"]), []).append(r["stack"])
    for r in rows:
        if "error" not in r and r["platform"] == "docker":
            others = [s for s in by_host[host_key(r["dockerHost"])] if s != r["stack"]]
            if others:
                r["sharesHostWith"] = others


def _fmt_host(h: dict[str, float]) -> str:
    return f"{h['cpuCores']:g}c/{h['memoryGb']:g}G/{h['storageGb']:g}G"


def table(rows: list[dict[str, Any]]) -> str:
    head = ["stack", "site", "ring", "on", "pacs", "view", "db", "deployed", "users", "patho", "host c/RAM/disk",
            "minimum", "sizing"]
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append([r["stack"], "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "ERROR: " + r["error"].splitlines()[0]])
            continue
        verdict = r["sizing"]
        if r["shortBy"]:
            verdict += " (" + ", ".join(f"{k} -{v:g}" for k, v in r["shortBy"].items()) + ")"
        if r.get("sharesHostWith"):
            verdict += f"; SAME DOCKER HOST as {', '.join(r['sharesHostWith'])}"
        on = f"k8s:{r['namespace']}" if r["platform"] == "kubernetes" else "docker"
        lines.append([r["stack"], r["site"], r["ring"], on, r["versions"]["pacs"], r["versions"]["view"], r["versions"]["db"],
                      _fmt_deployed(r), str(r["users"]), "yes" if r["pathology"] else "no", _fmt_host(r["host"]), _fmt_host(r["minimum"]),
                      verdict])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)) + "  " + line[-1] for line in lines)


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.fleet", description=__doc__.split("\n\n")[0])
    add_dir_argument(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--declared-only", action="store_true", help="do not ask the pulumi CLI what is deployed")
    args = p.parse_args(argv)
    names = stack_names(args.dir)
    if not names:
        raise OpsError(f"no Pulumi.<site>.yaml stack files in {args.dir}: nothing to show")
    rows = [row(s, args.dir) for s in names]
    mark_shared_hosts(rows)
    if not args.declared_only:
        for r in rows:
            if "error" not in r:
                add_deployed(r, args.dir)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    shared = [r for r in rows if r.get("sharesHostWith")]
    if shared and not args.json:
        print(f"\nfleet: {len(shared)} stacks share a Docker host: each site needs its own host (container names "
              "db/pacs/view and the ports are fixed by the vendor's guide); give each stack its own docker:host",
              file=sys.stderr)
    return 1 if any("error" in r or r["sizing"] == "short" or r.get("sharesHostWith") for r in rows) else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "fleet", argv)


if __name__ == "__main__":
    sys.exit(main())
