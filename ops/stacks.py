"""Which site stacks a CI run should touch, grouped by rollout ring.

    python -m ops.stacks [--changed-since REF] [--ring RING] [--json | --by-ring]

A stack is CI-deployable when its file sets `docker:host` (the dev stack runs on a
developer's own Docker and is left out). With --changed-since, only the stacks whose file
changed since REF, or all of them when the program, the policy pack or the dependencies changed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from sitespec.config import RINGS
from sitespec.stackfile import StackFileError, read_raw, ring, stack_names

from ._cli import add_dir_argument, run

# Paths whose change affects every site: the one list (the workflows' path filters must match it,
# see workflow_paths and tests/test_workflow_paths.py).
PROGRAM_PATHS = ("__main__.py", "Pulumi.yaml", "components/", "sitespec/", "policy/", "requirements.txt")


def workflow_paths() -> list[str]:
    """The `paths:` filter of the preview and up workflows: the program, and every stack file."""
    return sorted({"Pulumi*.yaml"} | {p + "**" if p.endswith("/") else p for p in PROGRAM_PATHS if p != "Pulumi.yaml"})


def ring_of(stack: str, root: Path) -> str:
    return ring(read_raw(stack, root)[0], f"Pulumi.{stack}.yaml")


def load_configs(root: Path) -> dict[str, dict[str, Any]]:
    """Every stack's config, each file read once."""
    return {s: read_raw(s, root)[0] for s in stack_names(root)}


def ci_stacks(configs: dict[str, dict[str, Any]]) -> list[str]:
    return [s for s, cfg in configs.items() if cfg.get("docker:host")]


def changed_files(since: str, root: Path) -> list[str]:
    out = subprocess.run(["git", "diff", "--name-only", f"{since}...HEAD"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        raise StackFileError(f"git diff against {since} failed: {out.stderr.strip()}")
    return out.stdout.split()


def select(configs: dict[str, dict[str, Any]], changed: Optional[list[str]] = None) -> list[str]:
    stacks = ci_stacks(configs)
    if changed is None or any(f.startswith(PROGRAM_PATHS) for f in changed):
        return stacks
    touched = {f[len("Pulumi."):-len(".yaml")] for f in changed if f.startswith("Pulumi.") and f.endswith(".yaml")}
    return [s for s in stacks if s in touched]


def by_ring(stacks: list[str], configs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    rings: dict[str, list[str]] = {r: [] for r in RINGS}
    for s in stacks:
        rings[ring(configs[s], f"Pulumi.{s}.yaml")].append(s)
    return rings


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.stacks", description=__doc__.split("\n\n")[0])
    add_dir_argument(p)
    p.add_argument("--changed-since", metavar="REF", help="only stacks affected by changes since this git ref")
    p.add_argument("--ring", choices=RINGS, help="only this ring")
    p.add_argument("--by-ring", action="store_true", help='JSON object {"canary": [...], "early": [...], "broad": [...]}')
    args = p.parse_args(argv)
    configs = load_configs(args.dir)
    stacks = select(configs, changed_files(args.changed_since, args.dir) if args.changed_since else None)
    rings = by_ring(ci_stacks(configs), configs)  # every CI stack's ring is checked, not only the selected ones
    rings = {r: [s for s in members if s in stacks] for r, members in rings.items()}
    if args.by_ring:
        print(json.dumps(rings))
    else:
        print(json.dumps(rings[args.ring] if args.ring else stacks))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "stacks", argv)


if __name__ == "__main__":
    sys.exit(main())
