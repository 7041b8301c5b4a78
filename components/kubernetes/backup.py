"""Pre-upgrade backup on Kubernetes: before any image changes, a Job dumps both schemas, by the
site's one dump script (components/scripts/maintenance.sh, through kube-dump.sh), into `backups`
on the data volume, with the same names and retention as on Docker. The Job's spec follows the
image references, so every change makes a new one; the db and the apps wait for it, and a
failed dump stops the upgrade. Below: the dump pod the nightly CronJob (maintenance.py) runs too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from sitespec.config import ImageRefs
from sitespec.guide import BACKUPS_MOUNT, DB_PASSWORD_FILE, FOLDERS, script_env
from sitespec.imageref import version_of

from .. import TYPE_PREFIX
from . import KubePartArgs, DATA_VOLUME, SCRIPTS, SCRIPTS_MOUNT, data_volume, env, labels, pull_secrets, secret_env
from .hardening import PRE_UPGRADE_DEADLINE_SECONDS, PRE_UPGRADE_ROLE, db_client, job_container, pod_security_spec
from .secrets import PASSWORD_KEY


@dataclass(frozen=True)
class KubePreUpgradeBackupArgs(KubePartArgs):
    """What the pre-upgrade Job is made from."""

    images: ImageRefs
    """o3:images: the Job follows them; the db image runs the dump."""
    retain: int
    """o3:backup.retain: how many pre-upgrade dumps to keep (count, not days)."""
    with_pull_secret: bool
    """Whether the pod pulls with the site's pull Secret."""
    depends_on: Sequence[pulumi.Resource]
    """What the dump needs: the Secret, the data volume and the scripts."""
    moved_from: Optional[pulumi.Alias] = None
    """The Job's resource before it moved here (until release df2d194 a child of o3:index:KubeDumps):
    its alias, so a deployed site keeps its Job."""
    offsite: Optional["PreUpgradeOffsite"] = None
    """With o3:offsite: what sends the dump off-host before the Job ends (so before anything is replaced)."""


@dataclass(frozen=True)
class PreUpgradeOffsite:
    """The off-host copy of the pre-upgrade dump (components/kubernetes/offsite.py makes it): the
    restic container, which runs once the dump (then an init container) wrote the file's name into
    NAME_FILE, its volumes, and what it needs created first (its Secret and script)."""

    container: dict[str, Any]
    volumes: list[dict[str, Any]]
    depends_on: list[pulumi.Resource]
    exchange: dict[str, Any]
    """The volume mount both containers share (an emptyDir), where NAME_FILE is."""

    NAME_FILE = "pre-upgrade-dump"


def dump_pod(with_pull_secret: bool) -> dict[str, Any]:
    """What the dump pods share: never restarted, the scripts and the data volume mounted."""
    return {
        **pod_security_spec(),
        "restartPolicy": "Never",
        "imagePullSecrets": pull_secrets(with_pull_secret),
        "volumes": [{"name": SCRIPTS, "configMap": {"name": SCRIPTS}}, data_volume()],
    }


def dump_env(site: str, extra: Optional[Mapping[str, str]] = None) -> list[dict[str, Any]]:
    """The dump script's variables; the password by reference to the db Secret."""
    names = {**script_env(site), "O3_PASSWORD_FILE": DB_PASSWORD_FILE}
    return env({**names, **(extra or {})}) + [secret_env("MYSQL_PWD", PASSWORD_KEY)]


def dump_mounts(logs: bool) -> list[dict]:
    mounts = [{"name": SCRIPTS, "mountPath": SCRIPTS_MOUNT, "readOnly": True},
              {"name": DATA_VOLUME, "mountPath": BACKUPS_MOUNT, "subPath": FOLDERS["backups"]}]
    if logs:
        mounts += [{"name": DATA_VOLUME, "mountPath": "/logs/pacs", "subPath": FOLDERS["pacsLog"]},
                   {"name": DATA_VOLUME, "mountPath": "/logs/view", "subPath": FOLDERS["viewLog"]}]
    return mounts


class KubePreUpgradeBackup(pulumi.ComponentResource):
    """The pre-upgrade dump Job (`job`, what the db and the apps wait for)."""

    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: KubePreUpgradeBackupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubePreUpgradeBackup", name, {}, opts)
        i = args.images
        to = "_to_" + "_".join(f"{c}-{version_of(ref)}" for c, ref in (("db", i.db), ("pacs", i.pacs), ("view", i.view)))
        dump = {
            "name": "dump",
            "image": i.db,
            "command": ["sh", f"{SCRIPTS_MOUNT}/kube-dump.sh", "backup", to, str(args.retain)],
            "env": dump_env(args.site),
            "volumeMounts": dump_mounts(logs=False),
            **job_container("dump"),
        }
        pod = dump_pod(args.with_pull_secret)
        needs = list(args.depends_on)
        if args.offsite is None:
            pod["containers"] = [dump]
        else:  # the dump first (an init container), then restic sends the file it names
            off = args.offsite
            mount = off.exchange["mountPath"]
            dump["env"] = dump_env(args.site, {"O3_DUMP_NAME_FILE": f"{mount}/{off.NAME_FILE}"})
            dump["volumeMounts"] = [*dump["volumeMounts"], off.exchange]
            pod.update(initContainers=[dump], containers=[off.container], volumes=[*pod["volumes"], *off.volumes])
            needs += off.depends_on
        self.job = k8s.batch.v1.Job(
            f"{name}-pre-upgrade",
            metadata={"namespace": args.namespace, "labels": labels(args.site, PRE_UPGRADE_ROLE),
                      "annotations": {"o3.images": " ".join((i.db, i.pacs, i.view))}},
            spec={"backoffLimit": 0, "activeDeadlineSeconds": PRE_UPGRADE_DEADLINE_SECONDS,
                  "template": {"metadata": {"labels": db_client(labels(args.site, PRE_UPGRADE_ROLE))}, "spec": pod}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=needs,
                                        aliases=[args.moved_from] if args.moved_from else None),
        )
        self.register_outputs({})
