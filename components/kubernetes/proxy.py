"""Not in the vendor guide: the HTTPS front door on Kubernetes (o3:tls), as on Docker.

nginx (o3:images.proxy, the same server config as on Docker) terminates TLS 1.2/1.3 with the
site's certificate and HSTS, and forwards to the Services `view` and `pacs`. Users reach it
through the Service `o3-proxy` (o3:kubernetes.expose) on o3:tls.viewPort and .pacsPort; the
apps' plain HTTP ports are then in no public Service. The key is a Secret mounted as a file;
a renewal changes the Secret and rolls the proxy's pods (their template carries the
certificate's hash), touching nothing else."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from sitespec.config import TlsSettings
from sitespec.guide import PROXY_CONTAINER, PROXY_PACS_PORT, PROXY_VIEW_PORT

from .. import CERT_PATH, CONF_PATH, KEY_PATH, TYPE_PREFIX, nginx_conf
from . import KubePartArgs, disruption_budget, labels, node_loss_tolerations, pull_secrets, resources, selector, spread
from .hardening import container_security, pod_security_spec

TLS_SECRET = "o3-tls"


@dataclass(frozen=True)
class KubeTlsProxyArgs(KubePartArgs):
    """What the HTTPS front door is made from."""

    tls: TlsSettings
    """o3:tls: the certificate (PEM) and the ports of VIEW and the PACS over HTTPS."""
    key: pulumi.Output[str]
    """o3:tlsKey, the certificate's private key (PEM), as a secret."""
    image: str
    """o3:images.proxy (the official nginx image)."""
    expose: str
    """o3:kubernetes.expose: the Service's type (NodePort or LoadBalancer)."""
    with_pull_secret: bool
    """Whether the pods pull with the site's pull Secret."""
    depends_on: Sequence[pulumi.Resource]
    """What the proxy waits for: the apps."""
    node_loss_seconds: int = 60
    """o3:kubernetes.nodeLossSeconds: how long its pods wait for a node that stopped answering."""


class KubeTlsProxy(pulumi.ComponentResource):
    """The Deployment `o3-proxy` (two replicas, rolled without a gap), its config and Secret, and
    its public Service."""

    service: k8s.core.v1.Service

    def __init__(self, name: str, args: KubeTlsProxyArgs, opts: Optional[pulumi.ResourceOptions] = None):
        t = args.tls
        super().__init__(f"{TYPE_PREFIX}KubeTlsProxy", name, {"viewPort": t.view_port, "pacsPort": t.pacs_port}, opts)
        meta = {"namespace": args.namespace, "labels": labels(args.site, PROXY_CONTAINER)}
        child = pulumi.ResourceOptions(parent=self)
        conf = k8s.core.v1.ConfigMap(f"{name}-config", metadata={**meta, "name": PROXY_CONTAINER},
                                     data={"default.conf": nginx_conf(kubernetes=True)}, opts=child)
        secret = k8s.core.v1.Secret(
            f"{name}-tls",
            metadata={**meta, "name": TLS_SECRET},
            type="kubernetes.io/tls",
            string_data={"tls.crt": t.certificate or "", "tls.key": args.key},
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True,
                                        additional_secret_outputs=["stringData", "data"]),
        )
        folder = CERT_PATH.rsplit("/", 1)[0]
        assert KEY_PATH.rsplit("/", 1)[0] == folder
        stamp = hashlib.sha256((t.certificate or "").encode() + nginx_conf(kubernetes=True).encode()).hexdigest()[:16]
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={**meta, "name": PROXY_CONTAINER, "annotations": {"o3.image": args.image}},
            spec={
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "selector": {"matchLabels": selector(args.site, PROXY_CONTAINER)},
                "template": {
                    "metadata": {"labels": labels(args.site, PROXY_CONTAINER),
                                 # a new certificate or config rolls the pods (nginx reads them at start)
                                 "annotations": {"o3.front-door": stamp}},
                    "spec": {
                        **pod_security_spec(),
                        "imagePullSecrets": pull_secrets(args.with_pull_secret),
                        # one per node, as the apps: losing a node never takes the front door
                        "topologySpreadConstraints": spread(args.site, PROXY_CONTAINER),
                        "tolerations": node_loss_tolerations(args.node_loss_seconds),
                        "containers": [{
                            "name": PROXY_CONTAINER,
                            "image": args.image,
                            "ports": [{"containerPort": PROXY_VIEW_PORT}, {"containerPort": PROXY_PACS_PORT}],
                            "volumeMounts": [
                                {"name": "config", "mountPath": CONF_PATH, "subPath": "default.conf", "readOnly": True},
                                {"name": "tls", "mountPath": folder, "readOnly": True},
                            ],
                            "readinessProbe": {"tcpSocket": {"port": PROXY_VIEW_PORT}, "periodSeconds": 2},
                            "livenessProbe": {"tcpSocket": {"port": PROXY_VIEW_PORT}, "periodSeconds": 10},
                            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                            "resources": resources("100m", "128Mi"),
                            "securityContext": container_security(PROXY_CONTAINER),
                        }],
                        "volumes": [
                            {"name": "config", "configMap": {"name": PROXY_CONTAINER}},
                            {"name": "tls", "secret": {"secretName": TLS_SECRET, "defaultMode": 0o400, "items": [
                                {"key": "tls.crt", "path": CERT_PATH.rsplit("/", 1)[1]},
                                {"key": "tls.key", "path": KEY_PATH.rsplit("/", 1)[1]}]}},
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[conf, secret, *args.depends_on]),
        )
        disruption_budget(f"{name}-budget", args.site, PROXY_CONTAINER, args.namespace, child)
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={**meta, "name": PROXY_CONTAINER},
            spec={"type": args.expose, "externalTrafficPolicy": "Local", "sessionAffinity": "ClientIP",
                  "selector": selector(args.site, PROXY_CONTAINER),
                  "ports": [{"name": "view-https", "port": t.view_port, "targetPort": PROXY_VIEW_PORT},
                            {"name": "pacs-https", "port": t.pacs_port, "targetPort": PROXY_PACS_PORT}]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        self.register_outputs({})
