"""Verify a deployed site: is it a working PACS, not only a green `pulumi up`?

    python -m ops.verify --stack S [--json] [--dir D] [--ca-file CA.pem]

On Kubernetes (o3:platform kubernetes), through the cluster's API: every rollout is complete on
the declared images, exactly one singleton runs, both schemas exist, pacs and view answer through
their Services, the data volume is bound with the vendor's minimum, and the last nightly dump is
recent.

Both: with o3:offsite, the site's last off-site run succeeded, the newest off-site snapshots are
within o3:offsite.rpoHours, and the last restore drill and repository check passed.

Over the stack's Docker host (local or ssh://) and from this machine: every container runs,
each on the image the stack declares (compared by image id, not by tag); exactly one singleton
runs; db is healthy; both schemas exist; the apps answer on their published ports (HTTPS through
the front door when o3:tls is on); the storage path has the vendor's minimum free; the newest
nightly dump is recent and the last nightly run succeeded; the certificate is not about to
expire; the versions deployed are the versions declared. Exit 1 when any check fails (CI stops
the rollout there), 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from sitespec.guide import SCHEMAS, SINGLETON_CONTAINER
from sitespec.stackfile import load_stack_config

from ._checks import FAIL, PASS, WARN, Check, guarded, report
from ._cli import OpsError, add_dir_argument, readable_file, run
from ._cluster import cluster_access
from ._docker import Docker
from ._kubernetes import Kubernetes
from ._offsite import load as offsite_load
from ._offsite import offsite_checks
from ._platform import Answer, Platform, Unavailable

NIGHTLY_MAX_AGE_HOURS = 26  # a daily dump, with slack for a slow night
ANSWER_ATTEMPTS, ANSWER_PAUSE = 5, 2.0  # an app that was just (re)started needs a moment


# --- the checks both platforms share, over the facts each platform supplies ---------------------

def check_apps(p: Platform) -> list[Check]:
    """Each app is up, on the image the stack declares."""
    out = []
    for name, ref in p.declared().items():
        try:
            app = p.app(name, ref)
        except Unavailable as u:
            out.append(u.check(name))
            continue
        if app.image != app.wanted:
            out.append(Check(name, FAIL, f"runs {app.shown}, not the declared {app.wanted_shown}",
                             "run `pulumi up` to replace it with the declared image"))
        else:
            out.append(Check(name, PASS, app.up))
    return out


def check_singleton(p: Platform) -> Check:
    """The periodic services run exactly once."""
    where = p.singletons()
    if len(where) != 1:
        return Check("singleton", FAIL, f"{len(where)} {SINGLETON_CONTAINER} {p.unit}s run, exactly one must",
                     f"the periodic services must run once: {p.listing} and `pulumi up`")
    return Check("singleton", PASS, f"one {SINGLETON_CONTAINER} {p.unit} ({where[0]})")


def check_schemas(p: Platform) -> Check:
    try:
        r = p.sql("SHOW DATABASES")
    except Unavailable as u:
        return u.check("schemas")
    if r.code != 0:
        return Check("schemas", FAIL, f"cannot query MySQL: {r.err[:200]}")
    missing = [s for s in SCHEMAS if s not in r.out.split()]
    if missing:
        return Check("schemas", FAIL, f"missing: {', '.join(missing)}",
                     "run `pulumi up` (the schema step creates them), or restore a dump (python -m ops.restore)")
    return Check("schemas", PASS, ", ".join(SCHEMAS))


def check_answer(a: Answer, attempts: int = ANSWER_ATTEMPTS) -> Check:
    for i in range(attempts):
        r = a.get()
        if r.answered and (r.status is None or r.status < 500):
            said = "" if r.status is None else f" {r.status}"
            return Check(a.name, PASS, f"{a.target} answers{said}" + (" with HSTS" if r.hsts else ""))
        if i < attempts - 1:
            time.sleep(ANSWER_PAUSE)
    what = f"answers {r.status}" if r.answered else f"does not answer ({r.reason})"
    return Check(a.name, FAIL, f"{a.target} {what}", a.fix)


def check_backup(p: Platform, now: Optional[float] = None) -> Check:
    now = now or time.time()
    try:
        n = p.nightly()
    except Unavailable as u:
        return u.check("backup")
    if n.failed:
        at, said = n.failed
        return Check("backup", FAIL, f"the last nightly run ({at}) failed: {said}",
                     f"{n.logs}; `python -m ops.backup` to retry now")
    if n.newest is None:
        level = FAIL if (now - n.since) / 3600 > NIGHTLY_MAX_AGE_HOURS else WARN
        return Check("backup", level, f"no nightly dump yet (first one at {p.cfg.backup.schedule} site time)",
                     "wait for the schedule, or `python -m ops.backup` now")
    hours = (now - n.newest) / 3600
    msg = f"newest nightly dump {n.newest_name + ', ' if n.newest_name else ''}{hours:.1f} h old"
    if hours > NIGHTLY_MAX_AGE_HOURS:
        return Check("backup", FAIL, msg + f" (more than {NIGHTLY_MAX_AGE_HOURS} h)",
                     f"{n.logs}; `python -m ops.backup` to take one now")
    return Check("backup", PASS, msg)


def run_checks(p: Platform, offsite: Optional[Callable[[Platform], list[Check]]] = None) -> list[Check]:
    """Every check, in the report's order: the shared ones, and the platform's own where they belong;
    `offsite`: the off-site repository's checks (the command passes them; they need its secrets)."""
    p.connect()
    steps = [
        ("apps", lambda: check_apps(p)),
        ("singleton", lambda: check_singleton(p)),
        *p.before_schemas(),
        ("schemas", lambda: check_schemas(p)),
        ("answers", lambda: [check_answer(a) for a in p.answers()]),
        *p.after_answers(),
        ("backup", lambda: check_backup(p)),
        *p.after_backup(),
        *([("off-site", lambda: offsite(p))] if offsite else []),
    ]
    checks: list[Check] = []
    for name, step in steps:
        guarded(checks, name, step)
    return checks


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.verify", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
    add_dir_argument(p)
    p.add_argument("--ca-file", type=readable_file,
                   help="CA certificate(s) to trust for the site's HTTPS (default: the system's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    cfg = load_stack_config(args.stack, args.dir)
    platform = (Kubernetes(cfg, cluster_access(args.stack, args.dir)) if cfg.platform == "kubernetes"
                else Docker(cfg, ca_file=args.ca_file))
    return report(run_checks(platform, lambda p: check_offsite(p, args.stack, args.dir)), cfg, args.stack,
                  "verify", "the site works", "FAIL", args.json)


def check_offsite(p: Platform, stack: str, root: Path) -> list[Check]:
    """The off-site copies: the site's last run, the newest snapshots' age, the last drill and check."""
    try:
        _, off = offsite_load(stack, root, required=False)
    except OpsError as e:  # its secrets cannot be read here: say so, and check the rest of the site
        return [Check("off-site", FAIL, str(e), "verify reads the repository with the stack's secrets")]
    return offsite_checks(off, p.offsite_status() if off is not None else None)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "verify", argv)


if __name__ == "__main__":
    sys.exit(main())
