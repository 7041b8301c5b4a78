"""The site's namespace: on Kubernetes what `o3net` is on Docker, the boundary the site's parts
find each other in by name (`db`, `pacs`, `view` are Services in it) and that keeps one site's
names apart from another's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import TYPE_PREFIX
from . import labels
from .hardening import pod_security


@dataclass(frozen=True)
class KubeNamespaceArgs:
    """What the site's namespace is made from."""

    site: str
    """o3:site.name, in every object's labels."""
    namespace: str
    """The namespace's name (o3:kubernetes.namespace, by default the site's name)."""


class KubeNamespace(pulumi.ComponentResource):
    """The namespace. It is retained on destroy: deleting it would delete the site's data volumes."""

    name: pulumi.Output[str]

    def __init__(self, name: str, args: KubeNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeNamespace", name, {"namespace": args.namespace}, opts)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": {**labels(args.site, "namespace"), **pod_security()}},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.name = ns.metadata.apply(lambda m: m["name"])
        self.register_outputs({"name": self.name})
