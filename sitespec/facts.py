"""The site facts the policy pack reads, and the resource names it finds them by.

A Python component's inputs never reach the policy engine in a real run (pulumi/pulumi#10533),
so the program puts these facts on a real resource: a `random.RandomId` named
`<site>-site-facts` whose `keepers` carry them, as strings.

Standard library only: the policy pack imports this module in its own virtualenv.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import SiteConfig

FACTS_KIND = "o3-site-facts"
FACTS_SUFFIX = "-site-facts"
DB_IMAGE_SUFFIX = "-db-image"  # the MySQL image is the RemoteImage named `<site>-db-image`


def site_facts(cfg: "SiteConfig") -> dict[str, str]:
    """What the policy pack needs to know about the site, as strings (RandomId keepers)."""
    s, h = cfg.site, cfg.host
    return {
        "kind": FACTS_KIND,
        "site": s.name,
        "concurrentUsers": str(s.concurrent_users),
        "pathology": "true" if s.pathology else "false",
        "examsPerDay": str(s.exams_per_day),
        "hostCpuCores": f"{h.cpu_cores:g}",
        "hostMemoryGb": f"{h.memory_gb:g}",
        "hostStorageGb": f"{h.storage_gb:g}",
        "hostNetworkMbps": f"{h.network_mbps:g}",
        "storagePath": s.storage_path,
    }
