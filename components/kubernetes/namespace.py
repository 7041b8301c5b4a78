"""The site's namespace, and the registry login as an image-pull Secret in it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from sitespec.config import RegistrySettings

from .. import TYPE_PREFIX
from . import PULL_SECRET, labels


@dataclass(frozen=True)
class SiteNamespaceArgs:
    """What the site's namespace is made from."""

    site: str
    """o3:site.name, in every object's labels."""
    namespace: str
    """The namespace's name (o3:kubernetes.namespace, by default the site's name)."""
    registry: RegistrySettings
    """o3:registry: the registry host and user of the pull Secret."""
    registry_key: Optional[pulumi.Output[str]]
    """o3:registryKey as a secret Output; None: no pull Secret (the images are public or mirrored)."""


def dockerconfigjson(server: str, username: str, key: str) -> str:
    auth = base64.b64encode(f"{username}:{key}".encode()).decode()
    return json.dumps({"auths": {server: {"username": username, "password": key, "auth": auth}}})


class SiteNamespace(pulumi.ComponentResource):
    """The namespace. It is retained on destroy: deleting it would delete the site's data volumes."""

    name: pulumi.Output[str]
    pull_secret: Optional[k8s.core.v1.Secret]

    def __init__(self, name: str, args: SiteNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeNamespace", name, {"namespace": args.namespace}, opts)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": labels(args.site, "namespace")},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.name = ns.metadata.apply(lambda m: m["name"])
        self.pull_secret = None
        if args.registry_key is not None:
            r = args.registry
            self.pull_secret = k8s.core.v1.Secret(
                f"{name}-pull-secret",
                metadata={"name": PULL_SECRET, "namespace": self.name, "labels": labels(args.site, "registry")},
                type="kubernetes.io/dockerconfigjson",
                string_data={".dockerconfigjson": pulumi.Output.secret(
                    args.registry_key.apply(lambda k: dockerconfigjson(r.server, r.username, k)))},
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
        self.register_outputs({"name": self.name})
