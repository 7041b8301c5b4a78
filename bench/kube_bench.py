"""Benchmark: a Kubernetes site with the real Pulumi engine on the two-node test cluster (tests/kube).

Not a test: nothing here asserts a time; it prints medians over N runs.

  O3_TEST_DOCKER_HOST=<disposable daemon> .venv/bin/python bench/kube_bench.py [--runs 3]

Each run, on a new stack and a new namespace:
  fresh site    `pulumi up --yes --skip-preview` until pacs and view answer through their Services
  preview       `pulumi preview --refresh --expect-no-changes` on the deployed stack
  pacs bump     o3:images.pacs to its second version and `pulumi up`, while a thread GETs the pacs
                Service every 100 ms: the time of the `up`, and the requests that failed (goal: 0)
  db bump       o3:images.db to its second version and `pulumi up` (the pre-upgrade dump Job, MySQL
                restarted on its volume, the schema Job again), until pacs answers again
The namespace is deleted between runs. The stand-in images are built on the daemon O3_TEST_DOCKER_HOST
names and imported into both nodes once; the cluster is started (and stopped at the end) by
tests/kube/cluster.sh.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from e2e_harness import Project, toolchain_env  # noqa: E402
from kube_harness import (  # noqa: E402
    KUBE_VERSIONS,
    ServiceProbe,
    cluster,
    kube_stack_config,
    kubectl,
    load_standins,
    new_workdir,
    service_ip,
    wait_answer,
)

PASSWORD = "Bench-Secret_Pw.2026"


def one_run(i: int, env: dict, kubeconfig: str, refs: dict) -> dict[str, float]:
    name = f"kube-bench-{i}"
    kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", timeout=600)
    work = new_workdir("o3-kube-bench-")
    p = Project(work, name, env, secrets=[PASSWORD])
    p.init(kube_stack_config(name, kubeconfig, refs), {"o3:dbPassword": PASSWORD})
    out: dict[str, float] = {}
    try:
        t = time.monotonic()
        p.up("--skip-preview", policy=False)
        wait_answer(f"http://{service_ip(name, 'pacs')}:8080/")
        wait_answer(f"http://{service_ip(name, 'view')}:8181/")
        out["fresh"] = time.monotonic() - t
        t = time.monotonic()
        p.preview("--refresh", "--expect-no-changes", policy=False)
        out["preview"] = time.monotonic() - t
        p.edit(lambda c: c["o3:images"].update(pacs=refs[("pacs", KUBE_VERSIONS["pacs"][1])]))
        with ServiceProbe(f"http://{service_ip(name, 'pacs')}:8080/") as probe:
            t = time.monotonic()
            p.up("--skip-preview", policy=False)
            out["pacs bump"] = time.monotonic() - t
        out["pacs bump failed requests"] = float(len(probe.failed))
        out["pacs bump requests"] = float(probe.ok + len(probe.failed))
        p.edit(lambda c: c["o3:images"].update(db=refs[("db", KUBE_VERSIONS["db"][1])]))
        t = time.monotonic()
        p.up("--skip-preview", policy=False)
        wait_answer(f"http://{service_ip(name, 'pacs')}:8080/")
        out["db bump"] = time.monotonic() - t
    finally:
        p.destroy(check=False)
        p.remove()
        kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", check=False, timeout=600)
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    docker_host = os.environ.get("O3_TEST_DOCKER_HOST")
    if not docker_host:
        print("O3_TEST_DOCKER_HOST is not set: name the disposable daemon the stand-in images are built on "
              "(tests/dockerd.sh start)", file=sys.stderr)
        return 2
    import docker

    client = docker.DockerClient(base_url=docker_host, timeout=300)
    out = subprocess.run([str(ROOT / "tests" / "contract" / "build-standins.sh")], capture_output=True, text=True,
                         env={**os.environ, "DOCKER_HOST": docker_host}, check=True)
    tag = out.stdout.strip().split(":")[-1]
    standins = {"db": f"o3-standin-db:{tag}", "app": f"o3-standin-app:{tag}"}
    env = toolchain_env()
    kubeconfig = cluster("start", timeout=1800).stdout.strip().splitlines()[-1]
    try:
        work = new_workdir("o3-kube-bench-images-")
        refs = load_standins(client, docker_host, standins, work)
        shutil.rmtree(work, ignore_errors=True)
        samples: dict[str, list[float]] = {}
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs} ...", flush=True)
            for k, v in one_run(i, env, kubeconfig, refs).items():
                samples.setdefault(k, []).append(v)
    finally:
        cluster("stop", check=False)
    print(f"\nruns: {args.runs}   cluster: two nodes (tests/kube)   cores: {os.cpu_count()}")
    print(f"{'measure':<34}{'median':>10}   samples")
    for k, v in samples.items():
        unit = "" if "requests" in k else " s"
        print(f"{k:<34}{statistics.median(v):>9.1f}{unit}   " + " ".join(f"{x:.1f}" for x in v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
