"""The site's secrets as Kubernetes Secrets: the MySQL password and the guide's three connection
strings (which carry it). Pods read them by secretKeyRef or as files: never a literal in a pod spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from sitespec.guide import connection_strings

from .. import TYPE_PREFIX
from . import KubePartArgs, DB_SECRET, labels

PASSWORD_KEY = "password"


@dataclass(frozen=True)
class KubeSecretsArgs(KubePartArgs):
    """What the site's db Secret is made from."""

    password: pulumi.Output[str]
    """The MySQL password (o3:dbPassword, or the generated one), a secret Output."""
    user: str
    """The MySQL user of the connection strings (root, or o3:kubernetes.database.user)."""


class KubeSecrets(pulumi.ComponentResource):
    """The Secret `o3-db`: key `password`, and one key per connection-string variable."""

    secret: k8s.core.v1.Secret

    def __init__(self, name: str, args: KubeSecretsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeSecrets", name, {}, opts)
        data = {PASSWORD_KEY: args.password}
        for var in connection_strings("").keys():
            data[var] = pulumi.Output.secret(args.password.apply(lambda pw, v=var: connection_strings(pw, args.user)[v]))
        self.secret = k8s.core.v1.Secret(
            f"{name}-db",
            metadata={"name": DB_SECRET, "namespace": args.namespace, "labels": labels(args.site, "db")},
            type="Opaque",
            string_data=data,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True,
                                        additional_secret_outputs=["stringData", "data"]),
        )
        self.register_outputs({})
