"""The guide's storage folders under ${STORAGE}/compose, created on the Docker host itself.

They are made by a throw-away container (`mkdir -p` through the same daemon), so this works the
same for a local socket and an ssh:// host. The step has no delete command and is
retain-on-delete: `pulumi destroy` and every replacement leave the folders and their data alone.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_command as command

from sitespec.guide import DATA_FOLDERS, FOLDERS

from .. import SSH_PRELUDE, TYPE_PREFIX
from . import docker_cli_env

_MOUNT = "/o3-storage"


@dataclass(frozen=True)
class StorageFoldersArgs:
    """Where the site's folders go, and the daemon that makes them."""

    storage_path: str
    """o3:site.storagePath: the absolute host folder the guide's folders go under."""
    helper_image: pulumi.Input[str]
    """Image the throw-away `mkdir` container runs (the db image's id: it is pulled anyway)."""
    docker_host: Optional[str]
    """docker:host: the daemon to make the folders through (local socket when None, or ssh://)."""
    ssh_opts: Sequence[str]
    """docker:sshOpts: options for the ssh client when docker_host is ssh://."""


class StorageFolders(pulumi.ComponentResource):
    """Creates the site's folders (if missing) and tells the containers where they are."""

    paths: dict[str, str]
    """Absolute host path of each folder role (see guide.FOLDERS)."""
    ready: command.local.Command

    def __init__(self, name: str, args: StorageFoldersArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}StorageFolders", name,
                         {"storagePath": args.storage_path, "dataFolders": list(DATA_FOLDERS)}, opts)
        self.paths = {role: posixpath.join(args.storage_path, rel) for role, rel in FOLDERS.items()}
        inside = " ".join(shlex.quote(f"{_MOUNT}/{rel}") for rel in FOLDERS.values())
        create = pulumi.Output.from_input(args.helper_image).apply(
            lambda image: SSH_PRELUDE + (
                "docker run --rm --network none --user 0 --entrypoint mkdir "
                f"-v {shlex.quote(args.storage_path)}:{_MOUNT} {shlex.quote(image)} -p {inside}"
            )
        )
        self.ready = command.local.Command(
            f"{name}-mkdir",
            create=create,
            environment=docker_cli_env(args.docker_host, args.ssh_opts),
            # Moving the storage path makes new folders; nothing is ever removed.
            triggers=[args.storage_path],
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, ignore_changes=["create"]),
        )
        self.register_outputs({"paths": self.paths})
