from pulumi_policy import EnforcementLevel

from ._sizing import host_rule

RULE = host_rule(
    "o3-sizing-network",
    "networkMbps",
    lambda req: req.network_mbps,
    EnforcementLevel.ADVISORY,
    "The host's network has the vendor's recommended bandwidth (100 Mbit/s by default): it directly affects how "
    "fast images open. A Kubernetes site declares none: not checked there.",
    "connect the host at 100 Mbit/s or more and raise o3:host.networkMbps.",
    ("minNetworkMbps",),
)
