"""Restore one of a site's dumps into its database, after a confirmation.

    python -m ops.restore --stack S --file o3-nightly-20261127T023000Z.sql.gz [--yes] [--dir D]

The file is one in <storagePath>/backups on the site's Docker host (`ls` it there, or see
`python -m ops.verify`). It is refused unless it is a complete, readable dump of this site's
schemas (a corrupt, truncated or other site's file is never loaded). The apps (pacs,
pacs-singleton, view) are stopped while the dump loads and started again afterwards, whatever
the outcome. Tables in the dump are replaced by their dumped content; tables created since the
dump are left alone. Exit 1 when the file is refused or the restore fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import PurePosixPath
from typing import ContextManager, Optional, Sequence

from sitespec.guide import BACKUP_FOLDER, PACS_CONTAINER, SCHEMAS, SINGLETON_CONTAINER, VIEW_CONTAINER
from sitespec.stackfile import load_stack_config

from ._cli import OpsError, add_dir_argument, run
from ._cluster import DeployedKubeSite, cluster_access, scaled_to_zero
from ._site import apps_stopped, open_site

APPS = (PACS_CONTAINER, SINGLETON_CONTAINER, VIEW_CONTAINER)


def file_name(value: str, storage_path: str) -> str:
    """The dump's name in the backups folder, from a name or a path under it."""
    path = PurePosixPath(value)
    if len(path.parts) > 1 and str(path.parent) not in (f"{storage_path}/{BACKUP_FOLDER}", BACKUP_FOLDER):
        raise OpsError(f"--file {value}: dumps are restored from {storage_path}/{BACKUP_FOLDER} on the site's host; "
                       "give the file's name there")
    return path.name


def confirm(site_name: str, what: str) -> bool:
    if not sys.stdin.isatty():
        raise OpsError("this replaces the site's data and needs a confirmation: run it in a terminal, "
                       "or pass --yes (scripts)")
    print(what)
    answer = input(f"Type the site's name ({site_name}) to go on: ")
    return answer.strip() == site_name


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.restore", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
    p.add_argument("--file", required=True, help="the dump's file name in <storagePath>/backups")
    p.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    add_dir_argument(p)
    args = p.parse_args(argv)
    cfg = load_stack_config(args.stack, args.dir)
    if cfg.platform == "kubernetes":
        name = file_name(args.file, "")
        site = DeployedKubeSite(cfg, cluster_access(args.stack, args.dir))
        return restore(cfg, site, name, args.yes, "in", "scaled to 0", scaled_to_zero(site, APPS, "restore"))
    name = file_name(args.file, cfg.site.storage_path)
    site = open_site(cfg)
    return restore(cfg, site, name, args.yes, "on", "stopped", apps_stopped(site, APPS, "restore"))


def restore(cfg, site, name: str, yes: bool, where: str, paused: str, apps_paused: ContextManager) -> int:
    """The restore on either platform: the dump script checks the file, the operator confirms, and
    it loads with the apps paused (`apps_paused`, entered only once confirmed)."""
    check = site.run_maintenance("check", name)
    if check.code != 0:
        print(f"restore: refused: {check.err or check.out}. Nothing was changed.", file=sys.stderr)
        return 1
    what = (f"restore: this replaces the tables of {', '.join(SCHEMAS)} of site {cfg.site.name} {where} {site.where} "
            f"with those in {name}; pacs, pacs-singleton and view are {paused} meanwhile.")
    if not yes and not confirm(cfg.site.name, what):
        print("restore: not confirmed; nothing was changed.", file=sys.stderr)
        return 1
    with apps_paused:
        result = site.run_maintenance("restore", name)
    if result.code != 0:
        print(f"restore: loading {name} failed: {result.err or result.out}", file=sys.stderr)
        return 1
    print(f"restore: {name} restored into {', '.join(SCHEMAS)} of site {cfg.site.name}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "restore", argv)


if __name__ == "__main__":
    sys.exit(main())
