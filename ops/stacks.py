"""Which site stacks a CI run should touch, grouped by rollout ring.

    python -m ops.stacks [--changed-since REF] [--ring RING] [--by-ring | --github-output]

A stack is CI-deployable when its file sets `docker:host` (the dev stack runs on a
developer's own Docker and is left out). With --changed-since, only the stacks whose file
changed since REF, or all of them when the program, the policy pack or the dependencies changed
(or when REF is Git's all-zero id: a push that created the branch has nothing before it).
--github-output appends the step outputs the workflows read (OUTPUTS) to the file named by
$GITHUB_OUTPUT, so a failure fails the step instead of leaving an empty output behind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from sitespec.config import RINGS
from sitespec.stackfile import StackFileError, read_raw, ring, stack_names

from ._cli import OpsError, add_dir_argument, run

# Paths whose change affects every site: the one list (the workflows' path filters must match it,
# see workflow_paths and tests/test_workflow_paths.py).
PROGRAM_PATHS = ("__main__.py", "Pulumi.yaml", "components/", "sitespec/", "policy/", "requirements.txt")


# The step outputs of --github-output: the selected stacks, and the selected stacks of each ring
# (JSON lists). The workflows read exactly these (tests/test_workflow_paths.py).
OUTPUTS = ("stacks", *RINGS)
NO_COMMIT = "0" * 40  # what GitHub sends as `before` for a push that created the branch


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


def changed_files(since: str, root: Path) -> Optional[list[str]]:
    """The files changed since `since` (None: everything counts as changed)."""
    if not since.strip():
        raise OpsError("--changed-since is empty: give a git commit or ref (in a workflow, check the event "
                       "field it reads, e.g. github.event.pull_request.base.sha or github.event.before)")
    if since == NO_COMMIT:
        return None
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
    out = p.add_mutually_exclusive_group()
    out.add_argument("--by-ring", action="store_true", help='JSON object {"canary": [...], "early": [...], "broad": [...]}')
    out.add_argument("--github-output", action="store_true",
                     help=f"append {', '.join(f'{k}=<JSON list>' for k in OUTPUTS)} to the file $GITHUB_OUTPUT names")
    args = p.parse_args(argv)
    configs = load_configs(args.dir)
    stacks = select(configs, changed_files(args.changed_since, args.dir) if args.changed_since is not None else None)
    rings = by_ring(ci_stacks(configs), configs)  # every CI stack's ring is checked, not only the selected ones
    rings = {r: [s for s in members if s in stacks] for r, members in rings.items()}
    selected = rings[args.ring] if args.ring else stacks
    if args.github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if not target:
            raise OpsError("--github-output: $GITHUB_OUTPUT is not set (GitHub Actions sets it in a step; "
                           "outside a workflow, read the printed list or use --by-ring)")
        values = {"stacks": selected, **rings}
        lines = [f"{k}={json.dumps(values[k])}" for k in OUTPUTS]
        with open(target, "a") as f:
            f.write("".join(line + "\n" for line in lines))
        print("\n".join(lines))
    elif args.by_ring:
        print(json.dumps(rings))
    else:
        print(json.dumps(selected))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "stacks", argv)


if __name__ == "__main__":
    sys.exit(main())
