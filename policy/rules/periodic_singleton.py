"""Exactly one `pacs-singleton` runs the periodic services; no other container does. On
Kubernetes: exactly one workload `pacs-singleton`, of one replica, never two at once during a
rollout (a Deployment's strategy Recreate)."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from sitespec.guide import PERIODIC_SERVICES_ENV as PERIODIC
from sitespec.guide import SINGLETON_CONTAINER as SINGLETON

from . import _kube
from .common import containers, env_map, known


def validate_kube(resources: Any, report: Callable) -> None:
    running = _kube.workloads(resources, _kube.RUNNING)
    singles = [w for w in running if w.name == SINGLETON]
    if len(singles) != 1:
        report(f"expected exactly one workload '{SINGLETON}', found {len(singles)}. "
               "Fix: deploy the site with components.kubernetes.site.KubeSite, which registers one.")
    for w in _kube.workloads(resources):
        for c in _kube.containers(w):
            entry = _kube.env_of(c).get(PERIODIC)
            periodic = known(entry, "value") if entry is not None else None
            if w.name == SINGLETON and periodic != "true":
                report(f"'{SINGLETON}' does not set {PERIODIC}=true: the periodic services would not run.", w.resource.urn)
            if w.name != SINGLETON and periodic is not None:
                report(f"workload '{w.name}' sets {PERIODIC}={periodic}: only '{SINGLETON}' may, or the periodic "
                       "jobs run twice. Fix: remove it from o3:extraEnv.", w.resource.urn)
    for w in singles:
        if w.replicas != 1:
            report(f"'{SINGLETON}' runs {w.replicas:g} replicas: the periodic jobs would run {w.replicas:g} times.",
                   w.resource.urn)
        strategy = known(known(known(w.resource.props, "spec", {}), "strategy", {}), "type")
        if w.kind == _kube.DEPLOYMENT and strategy != "Recreate":
            report(f"'{SINGLETON}' rolls out with strategy {strategy or 'RollingUpdate'}: a rollout would run two at "
                   "once. Fix: strategy Recreate.", w.resource.urn)


def validate(args: Any, report: Callable) -> None:
    if _kube.is_kubernetes(args.resources):
        validate_kube(args.resources, report)
        return
    cs = containers(args.resources)
    singletons = [c for c in cs if known(c.props, "name") == SINGLETON]
    if len(singletons) != 1:
        report(f"expected exactly one '{SINGLETON}' container, found {len(singletons)}. "
               "Fix: deploy the site with components.docker.site.Site, which registers one.")
    for c in cs:
        env = env_map(c)
        if env is None:  # not known until the update (e.g. a new generated password); checked then
            continue
        periodic = env.get(PERIODIC)
        name = known(c.props, "name")
        if name == SINGLETON and periodic != "true":
            report(f"'{SINGLETON}' does not set {PERIODIC}=true: the periodic services would not run.", c.urn)
        if name != SINGLETON and periodic is not None:
            report(f"container '{name}' sets {PERIODIC}={periodic}: only '{SINGLETON}' may, or the "
                   "periodic jobs run twice. Fix: remove it from o3:extraEnv.", c.urn)


POLICY = StackValidationPolicy(
    name="o3-periodic-singleton",
    description="The PACS periodic services run in exactly one container, pacs-singleton.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
