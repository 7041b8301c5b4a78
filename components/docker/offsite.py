"""Not in the vendor guide: the off-host copies (o3:offsite), the container `o3-offsite`.

It runs on o3:images.restic (the official restic image) the site's one off-host backup script
(components/scripts/offsite-backup.sh `serve`): when o3-maintenance asks (at o3:offsite.schedule,
or `maintenance.sh offsite`), it reads the dump o3-maintenance writes into a FIFO in the backups
folder (`restic backup --stdin-from-command`), then the DICOM storage and shared-persist folders,
mounted read-only, with a manifest of their checksums. Never the MySQL data folder, which is
inconsistent while MySQL runs. The repository password, the HTTP password and the SSH key are
secret files uploaded into it (0400); they never reach its environment, a command line or state in
plain text. The site's credential can only add (the server is append-only): pruning is the
operator's (`python -m ops.offsite prune`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from sitespec import offsite
from sitespec.config import SiteConfig
from sitespec.guide import BACKUPS_MOUNT

from .. import TYPE_PREFIX, script
from . import env_list, site_container
from .maintenance import zoneinfo_base64

OFFSITE_SH = script("offsite-backup.sh")


@dataclass(frozen=True)
class OffsiteArgs:
    """What the off-host backup container is made from."""

    config: SiteConfig
    """The site's config: o3:offsite (repository, user, CA, known hosts), o3:site (timezone, id)."""
    image_id: pulumi.Input[str]
    """Id of the pulled o3:images.restic."""
    secrets: Mapping[str, pulumi.Output[str]]
    """The site's own secrets by key (offsitePassword, offsiteHttpPassword, offsiteSshKey): uploaded as files."""
    folders: Mapping[str, str]
    """Absolute host path of each storage folder role; it mounts storage and the shared-persist folders read-only, backups read-write."""
    network_name: pulumi.Input[str]
    """Name of the site's network (o3net)."""
    labels: Mapping[str, str]
    """Docker labels of the container."""
    provider: docker.Provider
    """The site's Docker provider."""
    depends_on: Sequence[pulumi.Resource]
    """What the container waits for: the storage folders."""


class Offsite(pulumi.ComponentResource):
    """The restic container that sends the site's copies off its host."""

    container: docker.Container

    def __init__(self, name: str, args: OffsiteArgs, opts: Optional[pulumi.ResourceOptions] = None):
        cfg = args.config
        o = cfg.offsite
        assert o is not None
        super().__init__(f"{TYPE_PREFIX}Offsite", name, {"repository": o.repository}, opts)
        uploads = [
            docker.ContainerUploadArgs(file=offsite.SCRIPT, content=OFFSITE_SH, permissions="0555"),
            docker.ContainerUploadArgs(file="/etc/localtime", content_base64=zoneinfo_base64(cfg.site.timezone),
                                       permissions="0444"),
        ]
        for key, value in sorted(args.secrets.items()):
            content = value.apply(lambda v, k=key: offsite.file_content(k, v))
            uploads.append(docker.ContainerUploadArgs(file=f"{offsite.SECRETS_DIR}/{offsite.SECRET_FILES[key]}",
                                                      content=content, permissions="0400"))
        if o.known_hosts:
            uploads.append(docker.ContainerUploadArgs(file=f"{offsite.SECRETS_DIR}/{offsite.KNOWN_HOSTS_FILE}",
                                                      content=o.known_hosts.rstrip("\n") + "\n", permissions="0444"))
        if o.ca_cert:
            uploads.append(docker.ContainerUploadArgs(file=f"{offsite.SECRETS_DIR}/{offsite.CA_FILE}",
                                                      content=o.ca_cert, permissions="0444"))
        volumes = [docker.ContainerVolumeArgs(host_path=args.folders[role], container_path=path, read_only=True)
                   for role, path in sorted(offsite.STORAGE_PATHS.items())]
        volumes.append(docker.ContainerVolumeArgs(host_path=args.folders["backups"], container_path=BACKUPS_MOUNT,
                                                  read_only=False))
        self.container = docker.Container(
            f"{name}-container",
            name=offsite.CONTAINER,
            image=args.image_id,
            entrypoints=["/bin/sh", offsite.SCRIPT],
            command=["serve"],
            envs=env_list(offsite.script_env(cfg)),
            uploads=uploads,
            volumes=volumes,
            destroy_grace_seconds=10,
            **site_container(args.network_name, args.labels, cfg.logs),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=list(args.depends_on),
                delete_before_replace=True,  # fixed name
                additional_secret_outputs=["uploads"],
            ),
        )
        self.register_outputs({})
