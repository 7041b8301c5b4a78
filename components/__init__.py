"""The Pulumi components of one O3 site, per platform, one module per part of the vendor guide:
`components/docker/` (one Docker host) and `components/kubernetes/` (a cluster), side by side.

Only components (and the shell scripts both platforms run, in `scripts/`) live here; what a site
*is* lives in `sitespec`. Below: the small helpers every component shares.
"""

from __future__ import annotations

from pathlib import Path

TYPE_PREFIX = "o3:index:"


def script(name: str) -> str:
    return (Path(__file__).parent / "scripts" / name).read_text()


SSH_PRELUDE = script("ssh-prelude.sh")
# The one dump script: o3-maintenance runs it, and the pre-upgrade backup runs its dump.
MAINTENANCE_SH = script("maintenance.sh")
