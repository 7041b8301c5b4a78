"""With the HTTPS front door on, VIEW and the PACS web port are not also served in clear text
to the network: their plain HTTP ports may only be published on loopback (on Kubernetes: in no
NodePort or LoadBalancer Service)."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from sitespec.guide import PACS_CONTAINER, PACS_HTTP_PORT, PROXY_CONTAINER, VIEW_CONTAINER, VIEW_HTTP_PORT

from . import _kube
from .common import containers, known

PLAIN = {PACS_CONTAINER: PACS_HTTP_PORT, VIEW_CONTAINER: VIEW_HTTP_PORT}


def loopback(ip: Any) -> bool:
    return isinstance(ip, str) and (ip.startswith("127.") or ip == "::1")


def validate_kube(resources: Any, report: Callable) -> None:
    if not any(w.name == PROXY_CONTAINER for w in _kube.workloads(resources, _kube.RUNNING)):
        return
    for r in resources:
        if r.resource_type != _kube.SERVICE:
            continue
        spec = known(r.props, "spec", {})
        if known(spec, "type", "ClusterIP") not in ("NodePort", "LoadBalancer"):
            continue
        ports = known(spec, "ports", [])
        for i in range(len(ports)):
            p = known(ports, i, {})
            plain = {known(p, "port"), known(p, "targetPort")} & set(PLAIN.values())
            if plain:
                report(f"Service '{_kube.metadata_name(r)}' ({known(spec, 'type')}) serves plain HTTP port "
                       f"{min(plain):g} to the network while the HTTPS front door ({PROXY_CONTAINER}) is on: patient "
                       "data would still cross the network in clear text. Fix: only the front door's Service is "
                       "public (the program does so when o3:tls.enabled is true).", r.urn)


def validate(args: Any, report: Callable) -> None:
    if _kube.is_kubernetes(args.resources):
        validate_kube(args.resources, report)
        return
    found = containers(args.resources)
    if not any(known(c.props, "name") == PROXY_CONTAINER for c in found):
        return
    for c in found:
        name = known(c.props, "name")
        if name not in PLAIN:
            continue
        ports = known(c.props, "ports", [])
        for i in range(len(ports)):
            p = known(ports, i, {})
            if known(p, "internal") == PLAIN[name] and not loopback(known(p, "ip", "")):
                report(f"container '{name}' publishes plain HTTP port {PLAIN[name]} on "
                       f"'{known(p, 'ip', '') or 'all interfaces'}' while the HTTPS front door ({PROXY_CONTAINER}) "
                       "is on: patient data would still cross the network in clear text. Fix: publish it on "
                       "127.0.0.1 only (the program does so when o3:tls.enabled is true).", c.urn)


POLICY = StackValidationPolicy(
    name="o3-tls-no-plain-ports",
    description="With TLS enabled, the apps' plain HTTP ports are not published beyond loopback.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
