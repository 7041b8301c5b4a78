"""Benchmark: a restore drill and a full recovery (RTO) of the 2 GB DICOM-like set, on Docker and on
Kubernetes, with the real Pulumi engine, restic and rest-server.

Not a test: nothing here asserts a time; it runs the end-to-end scenarios at the issue's size and
prints the figures they measure (their `[figures]` lines).

  O3_TEST_DOCKER_HOST=<disposable daemon> O3_TEST_DOCKERD_CTL=$PWD/tests/dockerd.sh \\
      .venv/bin/python bench/recovery_bench.py [--files 2000] [--file-bytes 1000000] [--only docker|kubernetes]

Docker: tests/e2e/test_disaster_recovery_recover.py (a drill, then the host lost and the site
recovered onto a second host over SSH). Kubernetes: tests/e2e/test_kubernetes_recovery.py (the
CronJob's night, a drill, then the namespace and its volumes lost and the site recovered), on the
two-node test cluster, which the tests start. Each scenario's own checks still apply: a figure is
printed only for a recovery that proved every file and row.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "docker": ["tests/e2e/test_disaster_recovery_recover.py", "-k", "drill_passes or host_lost"],
    "kubernetes": ["tests/e2e/test_kubernetes_recovery.py"],
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=2000, help="DICOM files in the set (default 2000)")
    p.add_argument("--file-bytes", type=int, default=1_000_000, help="their mean size (default 1 MB: 2 GB in all)")
    p.add_argument("--only", choices=sorted(SCENARIOS), help="one platform only")
    args = p.parse_args()
    if not os.environ.get("O3_TEST_DOCKER_HOST"):
        p.error("set O3_TEST_DOCKER_HOST to a disposable Docker daemon (tests/dockerd.sh start)")
    env = {**os.environ, "O3_DR_FILES": str(args.files), "O3_DR_KUBE_FILES": str(args.files),
           "O3_DR_FILE_BYTES": str(args.file_bytes)}
    failed = 0
    for platform, selection in SCENARIOS.items():
        if args.only and platform != args.only:
            continue
        start = time.monotonic()
        out = subprocess.run([str(ROOT / "scripts" / "test"), "--e2e", "-m", "e2e", "-s", "-p", "no:cacheprovider",
                              *selection], cwd=ROOT, env=env, capture_output=True, text=True)
        figures = [line for line in out.stdout.splitlines() if line.startswith("[figures]")]
        print(f"== {platform}: {args.files} files of about {args.file_bytes} bytes "
              f"({time.monotonic() - start:.0f} s in all, exit {out.returncode})")
        for line in figures:
            print("  " + line.removeprefix("[figures] "))
        if out.returncode != 0:
            failed += 1
            print("\n".join(out.stdout.splitlines()[-40:]), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
