from pulumi_policy import EnforcementLevel

from ._sizing import host_rule

RULE = host_rule(
    "o3-sizing-memory",
    "memoryGb",
    lambda req: req.memory_gb,
    EnforcementLevel.MANDATORY,
    "The site has the RAM the vendor requires for its concurrent users "
    "(12/20/36 GB for 10/20/50 users, +4 GB per started 10 users above 50).",
    "on Docker, add RAM and raise o3:host.memoryGb; on Kubernetes, deploy with the program "
    "(components/kubernetes), whose pod requests follow the table; or lower o3:site.concurrentUsers.",
)
