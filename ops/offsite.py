"""The operator's side of a site's off-site repository: prove it, and apply the retention.

    python -m ops.offsite check --stack S [--subset 5%] [--dir D]
    python -m ops.offsite prune --stack S [--dir D]
    python -m ops.offsite snapshots --stack S [--dir D]
    python -m ops.offsite gate --stack S [--dir D]

`check` runs `restic check --read-data-subset` (it reads that share of the pack files back and
verifies them) and records the result in the repository, where ops.verify reads it. `prune`
forgets the site's snapshots beyond o3:offsite.retention (each kind, dump or storage, counted on
its own) and removes the data only they used; it needs the operator's credential
(o3:offsite.operator): the site's own cannot delete on the append-only server. Exit 1 when the
check finds damage or the prune could not remove what it forgot.

`gate` is the rollout's: an upgrade needs a fresh copy. It exits 1, naming the site, when the
site's newest off-site snapshot is older than o3:offsite.rpoHours (a site without o3:offsite
passes, and is said to have no off-site copy).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Optional, Sequence

from ._cli import OpsError, add_dir_argument, run
from ._checks import PASS
from ._offsite import Restic, check_fresh, human_bytes, load, now_iso

SUBSET = re.compile(r"^(\d{1,3}(\.\d+)?%|\d+/\d+|\d+[KMGT]?)$")


def subset(value: str) -> str:
    if not SUBSET.match(value) or (value.endswith("%") and not 0 < float(value[:-1]) <= 100):
        raise argparse.ArgumentTypeError(f"'{value}' is not a share restic reads: give a percentage (5%), "
                                         "a part (1/7) or a size (500M)")
    return value


def check(off, share: str) -> int:
    start = time.monotonic()
    with Restic(off.operator, off.site_id) as r:
        r.open()
        out = r.run("check", "--read-data-subset", share, check=False)
        said = out.stderr.decode(errors="replace") + out.stdout.decode(errors="replace")
        ok = out.returncode == 0
        lines = [ln.strip() for ln in said.splitlines() if ln.strip()]
        errors = [ln for ln in lines if any(w in ln.lower() for w in ("error", "fatal", "does not match", "damaged"))]
        detail = "no errors were found" if ok else "; ".join(errors[:5] or lines[-3:])[:600]
        seconds = time.monotonic() - start
        r.record("check", {"ok": ok, "at": now_iso(), "detail": detail, "subset": share,
                           "seconds": round(seconds, 1)})
    verdict = "passed" if ok else "FAILED"
    print(f"offsite check: {off.operator.repository}: read {share} of the data: {verdict}: {detail} "
          f"({seconds:.1f} s)")
    if not ok:
        print("offsite check: the repository is damaged: run the drill (python -m ops.drill) to see what a "
              "restore loses, and take a fresh backup of the site", file=sys.stderr)
    return 0 if ok else 1


def prune(off) -> int:
    if not off.retention:
        raise OpsError("o3:offsite.retention keeps nothing explicitly: set keepDaily/keepWeekly/keepMonthly/keepYearly")
    keep = [f"--{k}={v}" for k, v in sorted(off.retention.items())]
    with Restic(off.operator, off.site_id) as r:
        r.open()
        before = {s.id for s in r.snapshots()}
        plan = r.json("forget", "--host", off.site_id, "--tag", "o3", "--group-by", "host,tags", *keep) or []
        doomed = {s["id"] for group in plan for s in (group.get("remove") or [])}
        out = r.run("prune", check=False) if not doomed else r.run(
            "forget", "--host", off.site_id, "--tag", "o3", "--group-by", "host,tags", *keep, "--prune", check=False)
        after = {s.id for s in r.snapshots()}
    # On an append-only server restic says "unable to remove" and exits 0: what is left is the proof.
    still = doomed & after
    if still or out.returncode != 0:
        said = " ".join(out.stderr.decode(errors="replace").split())[-300:]
        print(f"offsite prune: {len(still)} of {len(doomed)} snapshots to forget are still in "
              f"{off.operator.repository}: the credential used cannot delete (is it the site's, on the "
              f"append-only server? set o3:offsite.operator). restic said: {said}", file=sys.stderr)
        return 1
    freed = ""
    m = re.search(r"this removes:? .*?([\d.]+ [KMGT]?i?B)", out.stdout.decode(errors="replace"))
    if m:
        freed = f", {m.group(1)} freed"
    print(f"offsite prune: site {off.site_id}: kept {len(after & before)} snapshots, forgot {len(doomed)}{freed} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(off.retention.items()))})")
    return 0


def snapshots(off) -> int:
    with Restic(off.operator, off.site_id) as r:
        found = r.snapshots()
    now = time.time()
    for s in found:
        added = s.summary.get("data_added")
        print(f"{s.short_id}  {s.age_hours(now):7.1f} h old  {','.join(t for t in s.tags if t != 'o3'):20}  "
              f"{' '.join(s.paths)}" + (f"  (+{human_bytes(added)})" if added is not None else ""))
    if not found:
        print(f"offsite: no snapshot of site {off.site_id} in {off.operator.repository}")
    return 0


def gate(off, stack: str) -> int:
    if off is None:
        print(f"offsite gate: site {stack} has no o3:offsite: no off-site copy to require before its upgrade")
        return 0
    with Restic(off.operator, off.site_id) as r:
        r.open()
        c = check_fresh(r, off)
    if c.status != PASS:
        print(f"offsite gate: refused: site {off.site_id} (stack {stack}) is not upgraded: {c.measured}. "
              f"Fix: {c.fix}", file=sys.stderr)
        return 1
    print(f"offsite gate: site {off.site_id}: {c.measured}")
    return 0


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.offsite", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="action", required=True)
    for name, text in (("check", "read back a share of the data and record the result"),
                       ("prune", "forget snapshots beyond the retention, with the operator's credential"),
                       ("snapshots", "list the site's snapshots"),
                       ("gate", "refuse an upgrade while the newest snapshot is older than rpoHours")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
        add_dir_argument(s)
        if name == "check":
            s.add_argument("--subset", type=subset, default="5%", help="share of the data to read back (default 5%%)")
    args = p.parse_args(argv)
    _, off = load(args.stack, args.dir, required=args.action != "gate")
    if args.action == "gate":
        return gate(off, args.stack)
    if args.action == "check":
        return check(off, args.subset)
    if args.action == "prune":
        return prune(off)
    return snapshots(off)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "offsite", argv)


if __name__ == "__main__":
    sys.exit(main())
