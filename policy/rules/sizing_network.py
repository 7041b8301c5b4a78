from pulumi_policy import EnforcementLevel

from ._sizing import host_rule

POLICY = host_rule(
    "o3-sizing-network",
    "networkMbps",
    lambda req: req.network_mbps,
    EnforcementLevel.ADVISORY,
    "The host's network has the vendor's recommended bandwidth (100 Mbit/s by default, config minNetworkMbps): "
    "it directly affects how fast images open.",
    "Fix: connect the host at 100 Mbit/s or more and raise o3:host.networkMbps.",
)
