"""The guide's `pacs`, `pacs-singleton` and `view` on Kubernetes.

- `pacs`: a Deployment of N replicas behind the Service `pacs` (8080 and 4568);
- `pacs-singleton`: a Deployment of exactly one replica with START_PERIODIC_SERVICES=true,
  strategy Recreate: the old pod is gone before the new one starts, so a rollout never runs
  two (README: which failures this covers);
- `view`: a Deployment of N replicas behind the Service `view` (8181), a client kept on one
  replica (sessionAffinity: VIEW keeps WebSockets open).

Each gets exactly the guide's variables (the connection strings by secretKeyRef), the guide's
mount points (folders of the site's data volume), requests from the sizing table, and probes.
A rollout never has fewer ready pods than before (maxUnavailable 0), and a pod that is stopped
keeps serving while the Services forget it (preStop), so an upgrade drops no request. Users and
modalities reach VIEW, the PACS web port and 4568 through `view-public` and `pacs-public`
(o3:kubernetes.expose; 4568 is plain TCP, so a Service type, never an HTTP Ingress)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from sitespec.guide import (
    PACS_CONTAINER,
    PACS_HTTP_PORT,
    PACS_SERVICE_PORT,
    PERIODIC_SERVICES_ENV,
    SINGLETON_CONTAINER,
    VIEW_CONTAINER,
    VIEW_HTTP_PORT,
)
from sitespec.sizing import PodRequest

from .. import TYPE_PREFIX
from . import data_mounts, data_volume, env, labels, pull_secrets, requests, secret_env, selector

STOP_DRAIN_SECONDS = 5  # a stopping pod keeps serving this long, while endpoints are updated


@dataclass(frozen=True)
class KubeApplicationsArgs:
    """What the three applications are made from."""

    site: str
    """o3:site.name, in the objects' labels."""
    namespace: pulumi.Input[str]
    """The site's namespace."""
    images: Mapping[str, str]
    """Image reference per application (pacs, view); pacs-singleton runs pacs's."""
    timezone: str
    """o3:site.timezone, given to each container as TZ."""
    extra_env: Mapping[str, Mapping[str, str]]
    """o3:extraEnv per application, keyed pacs, pacsSingleton and view."""
    replicas: Mapping[str, int]
    """Pods of pacs and view (sitespec.sizing.kube_plan; the singleton is one)."""
    requests: Mapping[str, PodRequest]
    """Requests of one pod, per application (sitespec.sizing.kube_plan)."""
    expose: str
    """o3:kubernetes.expose: the public Services' type (NodePort or LoadBalancer)."""
    http_public: bool
    """False behind the HTTPS front door: the HTTP ports are then not in the public Services."""
    with_pull_secret: bool
    """Whether the pods pull with the site's pull Secret."""
    depends_on: Sequence[pulumi.Resource]
    """What the Deployments wait for: the schema Job and the pre-upgrade dump."""


def _http_probes(port: int) -> dict[str, Any]:
    return {
        "readinessProbe": {"httpGet": {"path": "/", "port": port}, "periodSeconds": 2, "timeoutSeconds": 5,
                           "failureThreshold": 3},
        # The apps may take minutes to start (a schema migration): the startup budget is 10 min,
        # and liveness only counts once they are up.
        "startupProbe": {"tcpSocket": {"port": port}, "periodSeconds": 5, "failureThreshold": 120},
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
        "lifecycle": {"preStop": {"sleep": {"seconds": STOP_DRAIN_SECONDS}}},
    }


class KubeApplications(pulumi.ComponentResource):
    """The three Deployments, their in-cluster Services (named as the guide's containers) and the
    public Services."""

    deployments: dict[str, k8s.apps.v1.Deployment]
    public: dict[str, k8s.core.v1.Service]

    def __init__(self, name: str, args: KubeApplicationsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeApplications", name, {}, opts)
        common = {"LOG_TO": "FILE", "TZ": args.timezone}
        dpacs = [secret_env("DPACS_CONNECTION_STRING")]
        rolling = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
        specs = {
            PACS_CONTAINER: dict(
                image=args.images["pacs"], replicas=args.replicas["pacs"], strategy=rolling,
                env=env({**args.extra_env["pacs"], **common}) + dpacs,
                ports=[PACS_HTTP_PORT, PACS_SERVICE_PORT], probes=_http_probes(PACS_HTTP_PORT)),
            SINGLETON_CONTAINER: dict(
                image=args.images["pacs"], replicas=1, strategy={"type": "Recreate"},
                env=env({**args.extra_env["pacsSingleton"], **common, PERIODIC_SERVICES_ENV: "true"}) + dpacs,
                ports=[], probes={}),
            VIEW_CONTAINER: dict(
                image=args.images["view"], replicas=args.replicas["view"], strategy=rolling,
                env=env({**args.extra_env["view"], **common})
                + [secret_env("NGV_CONNECTION_STRING"), secret_env("ULTIMATE_CONNECTION_STRING")],
                ports=[VIEW_HTTP_PORT], probes=_http_probes(VIEW_HTTP_PORT)),
        }
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self.deployments = {}
        for role, s in specs.items():
            spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                       "nodeTaintsPolicy": "Honor", "labelSelector": {"matchLabels": selector(args.site, role)}}]
            self.deployments[role] = k8s.apps.v1.Deployment(
                f"{name}-{role}",
                metadata={"name": role, "namespace": args.namespace, "labels": labels(args.site, role),
                          "annotations": {"o3.image": s["image"]}},
                spec={
                    "replicas": s["replicas"],
                    "strategy": s["strategy"],
                    "selector": {"matchLabels": selector(args.site, role)},
                    "template": {
                        "metadata": {"labels": labels(args.site, role)},
                        "spec": {
                            "terminationGracePeriodSeconds": 30,
                            "imagePullSecrets": pull_secrets(args.with_pull_secret),
                            "topologySpreadConstraints": spread,
                            "containers": [{
                                "name": role,
                                "image": s["image"],
                                "env": s["env"],
                                "ports": [{"containerPort": p} for p in s["ports"]] or None,
                                "volumeMounts": data_mounts(role),
                                "resources": requests(args.requests[role].cpu, args.requests[role].memory),
                                **s["probes"],
                            }],
                            "volumes": [data_volume()],
                        },
                    },
                },
                opts=child,
            )
        meta = {"namespace": args.namespace}
        service_opts = pulumi.ResourceOptions(parent=self)
        k8s.core.v1.Service(
            f"{name}-pacs-service",
            metadata={**meta, "name": PACS_CONTAINER, "labels": labels(args.site, PACS_CONTAINER)},
            spec={"type": "ClusterIP", "selector": selector(args.site, PACS_CONTAINER),
                  "ports": [{"name": "http", "port": PACS_HTTP_PORT, "targetPort": PACS_HTTP_PORT},
                            {"name": "service", "port": PACS_SERVICE_PORT, "targetPort": PACS_SERVICE_PORT}]},
            opts=service_opts,
        )
        k8s.core.v1.Service(
            f"{name}-view-service",
            metadata={**meta, "name": VIEW_CONTAINER, "labels": labels(args.site, VIEW_CONTAINER)},
            spec={"type": "ClusterIP", "selector": selector(args.site, VIEW_CONTAINER), "sessionAffinity": "ClientIP",
                  "ports": [{"name": "http", "port": VIEW_HTTP_PORT, "targetPort": VIEW_HTTP_PORT}]},
            opts=service_opts,
        )
        pacs_ports = [{"name": "service", "port": PACS_SERVICE_PORT, "targetPort": PACS_SERVICE_PORT}]
        if args.http_public:
            pacs_ports.insert(0, {"name": "http", "port": PACS_HTTP_PORT, "targetPort": PACS_HTTP_PORT})
        public = {"type": args.expose, "externalTrafficPolicy": "Local"}  # Local: the modality's own address
        self.public = {
            PACS_CONTAINER: k8s.core.v1.Service(
                f"{name}-pacs-public",
                metadata={**meta, "name": f"{PACS_CONTAINER}-public", "labels": labels(args.site, PACS_CONTAINER)},
                spec={**public, "selector": selector(args.site, PACS_CONTAINER), "ports": pacs_ports},
                opts=service_opts,
            )
        }
        if args.http_public:
            self.public[VIEW_CONTAINER] = k8s.core.v1.Service(
                f"{name}-view-public",
                metadata={**meta, "name": f"{VIEW_CONTAINER}-public", "labels": labels(args.site, VIEW_CONTAINER)},
                spec={**public, "selector": selector(args.site, VIEW_CONTAINER), "sessionAffinity": "ClientIP",
                      "ports": [{"name": "http", "port": VIEW_HTTP_PORT, "targetPort": VIEW_HTTP_PORT}]},
                opts=service_opts,
            )
        self.register_outputs({})
