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
    """What the policy pack needs to know about the site, as strings (RandomId keepers). A
    Kubernetes site has no host of its own: its size is its pods' requests, which the pack reads
    from the workloads; `platform` says which (a Docker site's record has no `platform`)."""
    s, h = cfg.site, cfg.host
    if cfg.platform == "kubernetes":
        assert cfg.kubernetes is not None
        return {
            "kind": FACTS_KIND,
            "platform": "kubernetes",
            "site": s.name,
            "concurrentUsers": str(s.concurrent_users),
            "pathology": "true" if s.pathology else "false",
            "examsPerDay": str(s.exams_per_day),
            "storageGb": str(cfg.kubernetes.storage_gb),
        }
    assert h is not None and s.storage_path is not None
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
