from pulumi_policy import EnforcementLevel

from ._sizing import host_rule

RULE = host_rule(
    "o3-sizing-storage",
    "storageGb",
    lambda req: req.storage_gb,
    EnforcementLevel.MANDATORY,
    "The site's data storage has at least the vendor's recommended space (50 GB by default): the storage path's "
    "volume on Docker, the data volume o3-data on Kubernetes.",
    "on Docker, give o3:site.storagePath a larger volume and raise o3:host.storageGb; on Kubernetes, raise "
    "o3:kubernetes.storageGb.",
    ("minStorageGb",),
)
