"""Preflight: checks a site's Docker host before `pulumi up`, from the same stack config.

    python -m ops.preflight --stack <site> [--registry-key-file key.json] [--json]

On Kubernetes (o3:platform kubernetes) it checks the cluster instead: its API answers, its
nodes' allocatable CPU and memory, less what other pods already request, can hold the site's
requests (and its largest pod on one node), the storage class exists, and the namespace is free
or the site's own.

Talks to the stack's Docker host (`docker:host`, local socket or ssh://) and reports each check
as pass / warn / fail with the measured value and the fix; exits 1 when any check fails.
Measurements inside the host (free space, listening ports, routes, ulimits) run in short-lived
helper containers (`--rm`, read-only host mounts), so they work the same on a remote host.
Nothing on the host is changed, except that the helper image is pulled when it is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from sitespec.config import is_registry_key
from sitespec.stackfile import read_raw, validate

from ._checks import report
from ._cli import OpsError, add_dir_argument, readable_file, run
from ._cluster import cluster_access
from ._docker import Docker
from ._kubernetes import Kubernetes


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.preflight", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
    add_dir_argument(p)
    p.add_argument("--registry-key-file", type=readable_file,
                   help="the registry's JSON key, to test the login (stack secrets stay encrypted)")
    p.add_argument("--helper-image", help="image with sh/df/cat for the measurements (default: o3:images.db)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    raw, secure = read_raw(args.stack, args.dir)  # secure: which secrets are set (not readable)
    cfg = validate(raw, secure)
    key = args.registry_key_file.read_text() if args.registry_key_file else os.environ.get("O3_REGISTRY_KEY")
    if key is not None and not is_registry_key(key):
        source = f"--registry-key-file {args.registry_key_file}" if args.registry_key_file else "O3_REGISTRY_KEY"
        raise OpsError(f"{source} is not a registry JSON key (a service-account key file's content)")
    platform = (Kubernetes(cfg, cluster_access(args.stack, args.dir)) if cfg.platform == "kubernetes"
                else Docker(cfg, helper_image=args.helper_image, registry_key=key, key_is_set="o3:registryKey" in secure))
    return report(platform.preflight(), cfg, args.stack, "preflight for", "ready for `pulumi up`",
                  "FAIL - fix the above before `pulumi up`", args.json)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "preflight", argv)


if __name__ == "__main__":
    sys.exit(main())
