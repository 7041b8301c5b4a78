"""The guide's `pacs`, `pacs-singleton` and `view` on Kubernetes.

- `pacs`: a Deployment of N replicas behind the Service `pacs` (8080 and 4568);
- `pacs-singleton`: a StatefulSet of exactly one replica with START_PERIODIC_SERVICES=true: its
  controller never starts `pacs-singleton-0` while a pod of that name exists, terminating or on a
  node that stopped answering, so a rollout, a drain, a deleted pod or a lost node never runs two
  (docs/kubernetes.md: the singleton's promise);
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

from sitespec.containers import APPS, PACS, SINGLETON, VIEW, Container
from sitespec.sizing import PodRequest

from .. import TYPE_PREFIX
from . import (
    KubePartArgs,
    container_env,
    data_mounts,
    data_volume,
    disruption_budget,
    labels,
    node_loss_tolerations,
    pull_secrets,
    resources,
    selector,
    service_ports,
    spread,
)
from .hardening import container_security, db_client, pod_security_spec


@dataclass(frozen=True)
class KubeApplicationsArgs(KubePartArgs):
    """What the three applications are made from."""

    images: Mapping[str, str]
    """Image reference per application (pacs, view); pacs-singleton runs pacs's."""
    timezone: str
    """o3:site.timezone, given to each container as TZ."""
    extra_env: Mapping[str, Mapping[str, str]]
    """o3:extraEnv by container key (sitespec.containers: Container.extra_env_key)."""
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
    node_loss_seconds: int = 60
    """o3:kubernetes.nodeLossSeconds: how long pods wait for a node that stopped answering."""


def _probes(c: Container) -> dict[str, Any]:
    """The description's probe: ready when its path answers; started and alive while its port accepts."""
    if c.probe is None:
        return {}
    port = c.probe.port
    return {
        "readinessProbe": {"httpGet": {"path": c.probe.path, "port": port}, "periodSeconds": 2, "timeoutSeconds": 5,
                           "failureThreshold": 3},
        # The apps may take minutes to start (a schema migration): the startup budget is 10 min,
        # and liveness only counts once they are up.
        "startupProbe": {"tcpSocket": {"port": port}, "periodSeconds": 5, "failureThreshold": 120},
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
        **({"lifecycle": {"preStop": {"sleep": {"seconds": c.drain_seconds}}}} if c.drain_seconds else {}),
    }


class KubeApplications(pulumi.ComponentResource):
    """The two Deployments and the singleton's StatefulSet, their in-cluster Services (named as the guide's containers) and the
    public Services."""

    deployments: dict[str, pulumi.CustomResource]
    """pacs and view (Deployments) and pacs-singleton (a StatefulSet of one), by name."""
    public: dict[str, k8s.core.v1.Service]

    def __init__(self, name: str, args: KubeApplicationsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeApplications", name, {}, opts)
        rolling = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self.deployments = {}
        for c in APPS:
            role = c.name
            image = args.images[c.image]
            singleton = c is SINGLETON
            pod = {
                "metadata": {"labels": db_client(labels(args.site, role))},
                "spec": {
                    **pod_security_spec(),
                    "terminationGracePeriodSeconds": c.stop_grace_seconds,
                    "imagePullSecrets": pull_secrets(args.with_pull_secret),
                    "tolerations": node_loss_tolerations(args.node_loss_seconds),
                    **({} if singleton else {"topologySpreadConstraints": spread(args.site, role)}),
                    "containers": [{
                        "name": role,
                        "image": image,
                        "env": container_env(c, args.timezone, args.extra_env[c.extra_env_key]),
                        "ports": [{"containerPort": p.number} for p in c.ports] or None,
                        "volumeMounts": data_mounts(role),
                        "resources": resources(args.requests[role].cpu, args.requests[role].memory),
                        "securityContext": container_security(role),
                        **_probes(c),
                    }],
                    "volumes": [data_volume()],
                },
            }
            metadata = {"name": role, "namespace": args.namespace, "labels": labels(args.site, role),
                        "annotations": {"o3.image": image}}
            if singleton:
                # Until this release a Deployment (strategy Recreate) of the same name: the alias makes
                # it one resource whose kind changes, replaced (serviceName and podManagementPolicy
                # force it) by deleting the Deployment first, in the foreground (its pod gone too), so
                # even the takeover never runs two. The singleton holds no data.
                self.deployments[role] = k8s.apps.v1.StatefulSet(
                    f"{name}-{role}", metadata=metadata,
                    spec={"replicas": 1, "serviceName": role,  # no Service: nothing connects to it
                          "podManagementPolicy": "OrderedReady", "updateStrategy": {"type": "RollingUpdate"},
                          "selector": {"matchLabels": selector(args.site, role)}, "template": pod},
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                        aliases=[pulumi.Alias(type_="kubernetes:apps/v1:Deployment")], delete_before_replace=True)))
                continue
            self.deployments[role] = k8s.apps.v1.Deployment(
                f"{name}-{role}", metadata=metadata,
                spec={"replicas": args.replicas[role], "strategy": rolling,
                      "selector": {"matchLabels": selector(args.site, role)}, "template": pod},
                opts=child,
            )
            disruption_budget(f"{name}-{role}-budget", args.site, role, args.namespace,
                              pulumi.ResourceOptions(parent=self))
        meta = {"namespace": args.namespace}
        service_opts = pulumi.ResourceOptions(parent=self)
        k8s.core.v1.Service(
            f"{name}-pacs-service",
            metadata={**meta, "name": PACS.name, "labels": labels(args.site, PACS.name)},
            spec={"type": "ClusterIP", "selector": selector(args.site, PACS.name),
                  "ports": service_ports(PACS)},
            opts=service_opts,
        )
        k8s.core.v1.Service(
            f"{name}-view-service",
            metadata={**meta, "name": VIEW.name, "labels": labels(args.site, VIEW.name)},
            spec={"type": "ClusterIP", "selector": selector(args.site, VIEW.name), "sessionAffinity": "ClientIP",
                  "ports": service_ports(VIEW)},
            opts=service_opts,
        )
        # Behind the HTTPS front door the plain HTTP ports leave the public Services.
        pacs_ports = service_ports(PACS, http=args.http_public)
        public = {"type": args.expose, "externalTrafficPolicy": "Local"}  # Local: the modality's own address
        self.public = {
            PACS.name: k8s.core.v1.Service(
                f"{name}-pacs-public",
                metadata={**meta, "name": f"{PACS.name}-public", "labels": labels(args.site, PACS.name)},
                spec={**public, "selector": selector(args.site, PACS.name), "ports": pacs_ports},
                opts=service_opts,
            )
        }
        if args.http_public:
            self.public[VIEW.name] = k8s.core.v1.Service(
                f"{name}-view-public",
                metadata={**meta, "name": f"{VIEW.name}-public", "labels": labels(args.site, VIEW.name)},
                spec={**public, "selector": selector(args.site, VIEW.name), "sessionAffinity": "ClientIP",
                      "ports": service_ports(VIEW)},
                opts=service_opts,
            )
        self.register_outputs({})
