from pulumi_policy import EnforcementLevel

from ._sizing import host_rule

RULE = host_rule(
    "o3-sizing-cores",
    "cpuCores",
    lambda req: req.cores,
    EnforcementLevel.MANDATORY,
    "The site has the CPU cores the vendor requires for its concurrent users "
    "(table rows 10/20/50 users, +1 core per started 10 users above 50; pathology 1.5 cores per user).",
    "on Docker, deploy onto a larger host and raise o3:host.cpuCores; on Kubernetes, deploy with the program "
    "(components/kubernetes), whose pod requests follow the table; or lower o3:site.concurrentUsers.",
    ("pathologyCoresPerUser",),
)
