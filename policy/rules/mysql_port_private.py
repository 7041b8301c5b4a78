"""MySQL's port is not published on all interfaces (the vendor's compose file does that); on
Kubernetes, no Service makes it reachable from outside the cluster."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from sitespec.guide import DB_CONTAINER, MYSQL_PORT

from . import _kube
from .common import CONTAINER, known

ALL_INTERFACES = {"", "0.0.0.0", "::", None}
OUTSIDE = ("NodePort", "LoadBalancer")


def validate_service(args: Any, report: Callable) -> None:
    spec = known(args.props, "spec", {})
    kind = known(spec, "type", "ClusterIP")
    ports = known(spec, "ports", [])
    mysql = _kube.metadata_name(args) == DB_CONTAINER or any(
        known(known(ports, i, {}), "port") == MYSQL_PORT or known(known(ports, i, {}), "targetPort") == MYSQL_PORT
        for i in range(len(ports)))
    if mysql and kind in OUTSIDE:
        report(f"Service '{_kube.metadata_name(args)}' of type {kind} makes MySQL's port reachable from outside the "
               "cluster: anyone on the network can try its password. Fix: type ClusterIP (the program's `db`).")


def validate(args: Any, report: Callable) -> None:
    if args.resource_type == _kube.SERVICE:
        validate_service(args, report)
        return
    if args.resource_type != CONTAINER or known(args.props, "name") != DB_CONTAINER:
        return
    ports = known(args.props, "ports", [])
    for i in range(len(ports)):
        p = known(ports, i, {})
        if known(p, "ip", "") in ALL_INTERFACES:
            internal = known(p, "internal", MYSQL_PORT)
            report(f"MySQL port {internal:g} is published on all interfaces as host port "
                   f"{known(p, 'external', internal):g}: anyone on the network can try the root password. "
                   "Fix: o3:database.publish 'off' (default) or 'loopback' or one admin address.")


POLICY = ResourceValidationPolicy(
    name="o3-mysql-port-private",
    description="The MySQL port is not reachable from every network the host is on.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate,
)
