"""MySQL's port is not published on all interfaces (the vendor's compose file does that)."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from .common import CONTAINER

ALL_INTERFACES = {"", "0.0.0.0", "::", None}


def validate(args: Any, report: Callable) -> None:
    if args.resource_type != CONTAINER or args.props.get("name") != "db":
        return
    for p in args.props.get("ports") or []:
        if p.get("ip") in ALL_INTERFACES:
            report(f"MySQL port {p.get('internal'):g} is published on all interfaces as host port "
                   f"{p.get('external') or p.get('internal'):g}: anyone on the network can try the root password. "
                   "Fix: o3:database.publish 'off' (default) or 'loopback' or one admin address.")


POLICY = ResourceValidationPolicy(
    name="o3-mysql-port-private",
    description="The MySQL port is not reachable from every network the host is on.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate,
)
