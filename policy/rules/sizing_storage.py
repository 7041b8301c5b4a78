from pulumi_policy import EnforcementLevel

from ._sizing import host_rule

POLICY = host_rule(
    "o3-sizing-storage",
    "storageGb",
    lambda req: req.storage_gb,
    EnforcementLevel.MANDATORY,
    "The storage path has at least the vendor's recommended space (50 GB by default, config minStorageGb).",
    "Fix: give o3:site.storagePath a larger volume and raise o3:host.storageGb.",
)
