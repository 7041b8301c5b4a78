"""The guide's `docker login` on Kubernetes: the registry key as the image-pull Secret
`o3-registry`, which every pod of the site names, so the kubelet pulls without a login on any
node. The key is a secret in state and in the Secret, never in a pod spec."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from sitespec.config import RegistrySettings

from .. import TYPE_PREFIX
from . import KubePartArgs, PULL_SECRET, labels


@dataclass(frozen=True)
class KubeRegistryLoginArgs(KubePartArgs):
    """The registry to log in to, and where the pull Secret goes."""

    registry: RegistrySettings
    """o3:registry: the registry's server and the user name to log in as."""
    key: Optional[pulumi.Output[str]]
    """o3:registryKey, the registry's JSON key, as a secret; None: no pull Secret (public or mirrored images)."""
    moved_from: Optional[pulumi.Alias] = None
    """The pull Secret's resource before it moved here (until release df2d194 it was a child of the
    namespace component): its alias, so a deployed site keeps its Secret."""


def dockerconfigjson(server: str, username: str, key: str) -> str:
    auth = base64.b64encode(f"{username}:{key}".encode()).decode()
    return json.dumps({"auths": {server: {"username": username, "password": key, "auth": auth}}})


class KubeRegistryLogin(pulumi.ComponentResource):
    """The pull Secret, when a key is set."""

    pull_secret: Optional[k8s.core.v1.Secret]

    def __init__(self, name: str, args: KubeRegistryLoginArgs, opts: Optional[pulumi.ResourceOptions] = None):
        r = args.registry
        super().__init__(f"{TYPE_PREFIX}KubeRegistryLogin", name, {"server": r.server, "loggedIn": args.key is not None}, opts)
        self.pull_secret = None
        if args.key is not None:
            self.pull_secret = k8s.core.v1.Secret(
                f"{name}-pull-secret",
                metadata={"name": PULL_SECRET, "namespace": args.namespace, "labels": labels(args.site, "registry")},
                type="kubernetes.io/dockerconfigjson",
                string_data={".dockerconfigjson": pulumi.Output.secret(
                    args.key.apply(lambda k: dockerconfigjson(r.server, r.username, k)))},
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True,
                                            aliases=[args.moved_from] if args.moved_from else None),
            )
        self.register_outputs({})
