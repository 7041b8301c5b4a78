"""The guide's `db` on Kubernetes: MySQL as a StatefulSet of one with the guide's mysqld flags,
behind a Service named `db` (so `db:3306` stays `db:3306`), on a volume that outlives it; or a
hospital's own MySQL, which the apps reach by the same name.

As on Docker, and better than the guide: the password is a file from the site's Secret (never a
literal), the readiness probe needs no password, MySQL gets stopGraceSeconds to shut down
cleanly, and 3306 is a ClusterIP Service: never reachable from outside the cluster."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from sitespec.config import DatabaseSettings, KubeDatabaseSettings
from sitespec.containers import DB, DB_PROBE
from sitespec.guide import DB_CONTAINER, DB_PASSWORD_FILE, KUBE_DB_VOLUME, MYSQL_PORT
from sitespec.sizing import PodRequest

from .. import TYPE_PREFIX
from . import KubePartArgs, DB_SECRET, container_env, labels, pull_secrets, resources, selector, service_ports
from .hardening import container_security, pod_security_spec
from .secrets import PASSWORD_KEY

DB_VOLUME = KUBE_DB_VOLUME
PING = list(DB_PROBE.command)


@dataclass(frozen=True)
class KubeDatabaseArgs(KubePartArgs):
    """What the `db` StatefulSet (or the Service in front of an external MySQL) is made from."""

    settings: DatabaseSettings
    """o3:database: the mysqld flags, the stop grace (seconds) and how long `up` waits for MySQL (seconds)."""
    kube: KubeDatabaseSettings
    """o3:kubernetes.database: in the cluster (volume size, class) or external (host, port)."""
    image: str
    """The MySQL image reference (o3:images.db)."""
    timezone: str
    """o3:site.timezone, given to MySQL as TZ."""
    extra_env: Mapping[str, str]
    """o3:extraEnv.db."""
    request: Optional[PodRequest]
    """The pod's requests (sitespec.sizing.kube_plan); None with an external MySQL."""
    with_pull_secret: bool
    """Whether the pod pulls with the site's pull Secret."""
    depends_on: Sequence[pulumi.Resource]
    """What the StatefulSet and the Service `db` wait for: the Secret and the pre-upgrade dump (which
    takes a missing Service for a site that does not run yet)."""


class KubeDatabase(pulumi.ComponentResource):
    """`db`: the Service the apps reach, and the StatefulSet behind it (in the cluster)."""

    service: k8s.core.v1.Service
    ready: Sequence[pulumi.Resource]

    def __init__(self, name: str, args: KubeDatabaseArgs, opts: Optional[pulumi.ResourceOptions] = None):
        kube = args.kube
        super().__init__(f"{TYPE_PREFIX}KubeDatabase", name, {"external": bool(kube.external_host)}, opts)
        meta = {"namespace": args.namespace, "labels": labels(args.site, DB_CONTAINER)}
        if kube.external_host:
            self.service, self.ready = self._external(name, args, meta)
            self.register_outputs({})
            return
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-volume",
            metadata={**meta, "name": DB_VOLUME},
            spec={"accessModes": ["ReadWriteOnce"], "storageClassName": kube.storage_class,
                  "resources": {"requests": {"storage": f"{kube.storage_gb}Gi"}}},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, ignore_changes=["spec.storageClassName"]),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={**meta, "name": DB_CONTAINER},
            spec={"type": "ClusterIP", "selector": selector(args.site, DB_CONTAINER),
                  "ports": service_ports(DB)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        s = args.settings
        (data_path,) = [path for _, path in DB.mounts]
        assert args.request is not None
        statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={**meta, "name": DB_CONTAINER},
            spec={
                "serviceName": DB_CONTAINER,
                "replicas": 1,
                "selector": {"matchLabels": selector(args.site, DB_CONTAINER)},
                "template": {
                    "metadata": {"labels": labels(args.site, DB_CONTAINER)},
                    "spec": {
                        **pod_security_spec(),
                        "terminationGracePeriodSeconds": s.stop_grace_seconds,
                        "imagePullSecrets": pull_secrets(args.with_pull_secret),
                        "containers": [{
                            "name": DB_CONTAINER,
                            "image": args.image,
                            "args": ["mysqld", *s.mysqld_flags],
                            "env": container_env(DB, args.timezone, args.extra_env),
                            "ports": [{"name": p.name, "containerPort": p.number} for p in DB.ports],
                            "volumeMounts": [
                                {"name": "data", "mountPath": data_path},
                                {"name": "password", "mountPath": DB_PASSWORD_FILE, "subPath": PASSWORD_KEY,
                                 "readOnly": True},
                            ],
                            # The guide's healthcheck.
                            "readinessProbe": {"exec": {"command": PING}, "periodSeconds": DB_PROBE.interval_seconds,
                                               "timeoutSeconds": DB_PROBE.timeout_seconds,
                                               "failureThreshold": DB_PROBE.retries},
                            # A first start initialises the data volume: the startup probe's budget
                            # is the wait o3:database.waitTimeoutSeconds allows.
                            "startupProbe": {"exec": {"command": PING}, "periodSeconds": 5,
                                             "timeoutSeconds": DB_PROBE.timeout_seconds,
                                             "failureThreshold": max(1, s.wait_timeout_seconds // 5)},
                            "livenessProbe": {"tcpSocket": {"port": DB_PROBE.port}, "periodSeconds": 20,
                                              "timeoutSeconds": 10, "failureThreshold": 6},
                            "resources": resources(args.request.cpu, args.request.memory),
                            "securityContext": container_security(DB_CONTAINER),
                        }],
                        "volumes": [
                            {"name": "data", "persistentVolumeClaim": {"claimName": DB_VOLUME}},
                            {"name": "password", "secret": {"secretName": DB_SECRET, "defaultMode": 0o444,
                                                            "items": [{"key": PASSWORD_KEY, "path": PASSWORD_KEY}]}},
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[claim, *args.depends_on],
                custom_timeouts=pulumi.CustomTimeouts(create=f"{s.wait_timeout_seconds + 120}s",
                                                      update=f"{s.wait_timeout_seconds + 120}s"),
            ),
        )
        self.ready = [statefulset, self.service]
        self.register_outputs({})

    def _external(self, name: str, args: KubeDatabaseArgs, meta: dict):
        """`db` for a MySQL outside the cluster: an ExternalName Service for a host name (port
        3306), a Service with one EndpointSlice for an IP address (any port behind 3306)."""
        kube = args.kube
        host = kube.external_host
        assert host is not None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            svc = k8s.core.v1.Service(
                f"{name}-service",
                metadata={**meta, "name": DB_CONTAINER},
                spec={"type": "ExternalName", "externalName": host,
                      "ports": [{"name": "mysql", "port": MYSQL_PORT}]},
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
            return svc, [svc]
        svc = k8s.core.v1.Service(
            f"{name}-service",
            metadata={**meta, "name": DB_CONTAINER},
            spec={"type": "ClusterIP", "ports": [{"name": "mysql", "port": MYSQL_PORT,
                                                  "targetPort": kube.external_port}]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        slice_ = k8s.discovery.v1.EndpointSlice(
            f"{name}-endpoints",
            metadata={**meta, "name": f"{DB_CONTAINER}-external",
                      "labels": {**meta["labels"], "kubernetes.io/service-name": DB_CONTAINER}},
            address_type="IPv6" if ":" in host else "IPv4",
            endpoints=[{"addresses": [host]}],
            ports=[{"name": "mysql", "port": kube.external_port, "protocol": "TCP"}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[svc]),
        )
        return svc, [svc, slice_]
