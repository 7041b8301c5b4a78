from pulumi_policy import EnforcementLevel

from ._sizing import host_rule

POLICY = host_rule(
    "o3-sizing-memory",
    "memoryGb",
    lambda req: req.memory_gb,
    EnforcementLevel.MANDATORY,
    "The host has the RAM the vendor requires for the site's concurrent users "
    "(12/20/36 GB for 10/20/50 users, +4 GB per started 10 users above 50).",
    "Fix: add RAM and raise o3:host.memoryGb, or lower o3:site.concurrentUsers.",
)
