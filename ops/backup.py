"""Take a dump of a site's schemas now, the same dump as the nightly and pre-upgrade ones.

    python -m ops.backup --stack S [--dir D]

Runs in the site's o3-maintenance container on the site's Docker host (local or ssh://): one
transaction, compressed, written under a temporary name and renamed, into <storagePath>/backups
as o3-manual-<UTC time>.sql.gz. Manual dumps are kept until you remove them. Exit 1 when the
dump fails (nothing is left behind then). On Kubernetes the dump runs in a Job made from the
nightly CronJob, into `backups` on the data volume o3-data.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from sitespec.guide import BACKUP_FOLDER, KUBE_DATA_VOLUME
from sitespec.stackfile import load_stack_config

from ._cli import add_dir_argument, run
from ._cluster import DeployedKubeSite, cluster_access
from ._site import open_site


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.backup", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
    add_dir_argument(p)
    args = p.parse_args(argv)
    cfg = load_stack_config(args.stack, args.dir)
    if cfg.platform == "kubernetes":
        site = DeployedKubeSite(cfg, cluster_access(args.stack, args.dir))
        folder = f"{BACKUP_FOLDER}/ on the volume {KUBE_DATA_VOLUME}"
    else:
        site = open_site(cfg)
        folder = f"{cfg.site.storage_path}/{BACKUP_FOLDER}/"
    result = site.run_maintenance("dump", "manual")
    if result.code != 0:
        print(f"backup: the dump of site {cfg.site.name} on {site.where} failed, nothing was written: "
              f"{result.err or result.out}", file=sys.stderr)
        return 1
    name = result.out.splitlines()[-1]
    size = site.run_maintenance("size", name).out
    print(f"backup: site {cfg.site.name}: {folder}{name} written on {site.where} ({size})")
    print(f"restore it with: python -m ops.restore --stack {args.stack} --file {name}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "backup", argv)


if __name__ == "__main__":
    sys.exit(main())
