"""The guide's schema step on Kubernetes: a Job on the db image that creates `public_pacs` and
`public_view` once MySQL is ready. Idempotent (CREATE SCHEMA IF NOT EXISTS); a new db image makes
a new Job (its name follows its spec), so it runs again after every db change, harmlessly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from sitespec.guide import DB_CONTAINER

from .. import SCHEMA_RETRY_DELAY_SECONDS, TYPE_PREFIX, schema_env
from . import KubePartArgs, SCHEMA_SCRIPT_KEY, SCRIPTS, SCRIPTS_MOUNT, env, labels, pull_secrets, secret_env
from .hardening import db_client, job_container, pod_security_spec, schema_deadline_seconds
from .secrets import PASSWORD_KEY


@dataclass(frozen=True)
class KubeSchemasArgs(KubePartArgs):
    """What the schema Job is made from."""

    image: str
    """The db image (o3:images.db): its mysql client runs the statements."""
    user: str
    """The MySQL user (root, or o3:kubernetes.database.user)."""
    retries: int
    """o3:database.schemaRetries: attempts, components.SCHEMA_RETRY_DELAY_SECONDS apart, while MySQL is still starting."""
    with_pull_secret: bool
    """Whether the pod pulls with the site's pull Secret."""
    depends_on: Sequence[pulumi.Resource]
    """What the Job waits for: MySQL ready, the Secret and the scripts."""


class KubeSchemas(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: KubeSchemasArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeSchemas", name, {}, opts)
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata={"namespace": args.namespace, "labels": labels(args.site, "schemas"),
                      "annotations": {"o3.image": args.image}},
            spec={
                "backoffLimit": 2,
                "activeDeadlineSeconds": schema_deadline_seconds(args.retries, SCHEMA_RETRY_DELAY_SECONDS),
                "template": {
                    "metadata": {"labels": db_client(labels(args.site, "schemas"))},
                    "spec": {
                        **pod_security_spec(),
                        "restartPolicy": "Never",
                        "imagePullSecrets": pull_secrets(args.with_pull_secret),
                        "containers": [{
                            "name": "schemas",
                            "image": args.image,
                            "command": ["sh", f"{SCRIPTS_MOUNT}/{SCHEMA_SCRIPT_KEY}"],
                            "env": env({"O3_DB_HOST": DB_CONTAINER, "O3_DB_USER": args.user,
                                        **schema_env(args.retries)})
                            + [secret_env("MYSQL_PWD", PASSWORD_KEY)],
                            "volumeMounts": [{"name": SCRIPTS, "mountPath": SCRIPTS_MOUNT, "readOnly": True}],
                            **job_container("schemas"),
                        }],
                        "volumes": [{"name": SCRIPTS, "configMap": {"name": SCRIPTS}}],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.register_outputs({})
