"""Which site stacks a CI run should touch, grouped by rollout ring.

    python -m ops.stacks [--changed-since REF | --since-deployed] [--ring RING] [--by-ring | --github-output]
    python -m ops.stacks --mark applied|verified --stack STACK     (the rollout, around its `up`)

Every stack is in CI, Docker and Kubernetes alike, unless its own file says `o3:site.ci: false`
(the dev stack, on a developer's own Docker). A stack that CI could not deploy and that does not
say so is an error naming it, never left out silently: a Docker stack without `docker:host` (it
would deploy on the runner's own Docker), a Kubernetes stack whose file names a kubeconfig path
(CI hands the cluster's kubeconfig over from the secret KUBECONFIG_<ID>; `ids` below).

With --changed-since, only the stacks whose file changed since REF, or all of them when the
program, the policy pack or the dependencies changed (or when REF is Git's all-zero id: a push
that created the branch has nothing before it). With --since-deployed (the rollout), each stack
against what is deployed: the commit its last verified rollout recorded in the stack's tags
(TAG_VERIFIED), so a push whose run was cancelled is never skipped; a stack with no record, or
whose last `up` was not verified (TAG_APPLIED differs), is selected whole.
--github-output appends the step outputs the workflows read (OUTPUTS) to the file named by
$GITHUB_OUTPUT, so a failure fails the step instead of leaving an empty output behind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
# `ids`: {stack: ID} of every CI stack, the suffix of its secrets' names (KUBECONFIG_<ID>).
OUTPUTS = ("stacks", *RINGS, "ids")
# The stack tags a rollout writes (--mark): the commit of its last `up`, and of its last verified one.
TAG_APPLIED, TAG_VERIFIED = "o3:ci-applied-commit", "o3:ci-verified-commit"
NO_COMMIT = "0" * 40  # what GitHub sends as `before` for a push that created the branch


def workflow_paths() -> list[str]:
    """The `paths:` filter of the preview and up workflows: the program, and every stack file."""
    return sorted({"Pulumi*.yaml"} | {p + "**" if p.endswith("/") else p for p in PROGRAM_PATHS if p != "Pulumi.yaml"})


def ring_of(stack: str, root: Path) -> str:
    return ring(read_raw(stack, root)[0], f"Pulumi.{stack}.yaml")


def load_configs(root: Path) -> dict[str, dict[str, Any]]:
    """Every stack's config, each file read once."""
    return {s: read_raw(s, root)[0] for s in stack_names(root)}


def secret_id(stack: str) -> str:
    """The suffix of a stack's secrets' names: GitHub allows letters, digits and '_' only."""
    return re.sub(r"[^A-Za-z0-9]", "_", stack).upper()


def in_ci(stack: str, cfg: dict[str, Any]) -> bool:
    """Whether CI runs the stack (o3:site.ci, default true); a stack CI could not run and that does
    not opt out is refused, named."""
    where = f"Pulumi.{stack}.yaml"
    site = cfg.get("o3:site") if isinstance(cfg.get("o3:site"), dict) else {}
    flag = site.get("ci", True)
    if not isinstance(flag, bool):
        raise StackFileError(f"{where}: o3:site.ci is {flag!r}: write true or false")
    if not flag:
        return False
    if cfg.get("o3:platform", "docker") == "kubernetes":
        if isinstance(cfg.get("kubernetes:kubeconfig"), str):
            raise StackFileError(
                f"{where}: kubernetes:kubeconfig names a file of this machine, which a CI runner has not got: CI "
                f"hands the cluster's kubeconfig over from the secret KUBECONFIG_{secret_id(stack)}. Remove the key "
                "(run locally with KUBECONFIG), set it as a secret (--secret), or set o3:site.ci: false")
    elif not cfg.get("docker:host"):
        raise StackFileError(
            f"{where}: no docker:host, so CI would deploy the site on its runner's own Docker: set docker:host, or "
            "o3:site.ci: false to keep the stack out of CI (a site deployed by hand)")
    return True


def ci_stacks(configs: dict[str, dict[str, Any]]) -> list[str]:
    return [s for s, cfg in configs.items() if in_ci(s, cfg)]


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


def affects(stack: str, changed: Optional[list[str]]) -> bool:
    """Whether changes to these files (None: everything) affect the stack."""
    return changed is None or any(f.startswith(PROGRAM_PATHS) for f in changed) or f"Pulumi.{stack}.yaml" in changed


def select(configs: dict[str, dict[str, Any]], changed: Optional[list[str]] = None) -> list[str]:
    return [s for s in ci_stacks(configs) if affects(s, changed)]


def pulumi_tags(stack: str, root: Path) -> Optional[dict[str, str]]:
    """The stack's tags in the state backend (PULUMI_BACKEND_URL); None: the stack is not there yet."""
    out = subprocess.run(["pulumi", "stack", "tag", "ls", "--json", "--stack", stack, "--non-interactive"], cwd=root,
                         capture_output=True, text=True)
    if out.returncode != 0:
        if re.search(r"no stack named|not found|does not exist", out.stderr, re.I):
            return None
        raise OpsError(f"cannot read stack {stack}'s tags from the state backend: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout or "{}")


def pending(stacks: list[str], root: Path, tags=pulumi_tags) -> list[str]:
    """The stacks whose deployed commit (TAG_VERIFIED) is behind a change that affects them."""
    out = []
    for s in stacks:
        t = tags(s, root) or {}
        verified = t.get(TAG_VERIFIED)
        if not verified or t.get(TAG_APPLIED) != verified:
            out.append(s)
            continue
        try:
            changed = changed_files(verified, root)
        except StackFileError:  # the recorded commit is not in this history (a force push): deploy it
            changed = None
        if affects(s, changed):
            out.append(s)
    return out


def mark(stack: str, which: str, root: Path) -> str:
    """Records HEAD as the stack's applied or verified commit (a stack tag)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    if head.returncode != 0:
        raise OpsError(f"--mark: {root} is not a git checkout: {head.stderr.strip()}")
    tag = TAG_APPLIED if which == "applied" else TAG_VERIFIED
    out = subprocess.run(["pulumi", "stack", "tag", "set", tag, head.stdout.strip(), "--stack", stack, "--non-interactive"],
                         cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        raise OpsError(f"cannot set stack {stack}'s tag {tag}: {out.stderr.strip()[-500:]}")
    return head.stdout.strip()


def by_ring(stacks: list[str], configs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    rings: dict[str, list[str]] = {r: [] for r in RINGS}
    for s in stacks:
        rings[ring(configs[s], f"Pulumi.{s}.yaml")].append(s)
    return rings


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.stacks", description=__doc__.split("\n\n")[0])
    add_dir_argument(p)
    since = p.add_mutually_exclusive_group()
    since.add_argument("--changed-since", metavar="REF", help="only stacks affected by changes since this git ref")
    since.add_argument("--since-deployed", action="store_true",
                       help="only stacks affected by changes since their last verified rollout (stack tags; needs the backend)")
    since.add_argument("--mark", choices=("applied", "verified"), help="record HEAD in --stack's tags (the rollout)")
    p.add_argument("--stack", help="the stack --mark records")
    p.add_argument("--ring", choices=RINGS, help="only this ring")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--by-ring", action="store_true", help='JSON object {"canary": [...], "early": [...], "broad": [...]}')
    out.add_argument("--github-output", action="store_true",
                     help=f"append {', '.join(f'{k}=<JSON list>' for k in OUTPUTS)} to the file $GITHUB_OUTPUT names")
    args = p.parse_args(argv)
    if args.mark:
        if not args.stack:
            raise OpsError("--mark needs --stack STACK")
        print(f"{args.stack}: {args.mark} at {mark(args.stack, args.mark, args.dir)}")
        return 0
    configs = load_configs(args.dir)
    if args.since_deployed:
        stacks = pending(ci_stacks(configs), args.dir)
    else:
        stacks = select(configs, changed_files(args.changed_since, args.dir) if args.changed_since is not None else None)
    rings = by_ring(ci_stacks(configs), configs)  # every CI stack's ring is checked, not only the selected ones
    rings = {r: [s for s in members if s in stacks] for r, members in rings.items()}
    selected = rings[args.ring] if args.ring else stacks
    if args.github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if not target:
            raise OpsError("--github-output: $GITHUB_OUTPUT is not set (GitHub Actions sets it in a step; "
                           "outside a workflow, read the printed list or use --by-ring)")
        values = {"stacks": selected, **rings, "ids": {s: secret_id(s) for s in ci_stacks(configs)}}
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
