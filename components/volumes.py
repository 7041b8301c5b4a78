"""The guide's storage folders under ${STORAGE}/compose, created on the Docker host itself.

They are made by a throw-away container (`mkdir -p` through the same daemon), so this works the
same for a local socket and an ssh:// host. The step has no delete command and is
retain-on-delete: `pulumi destroy` and every replacement leave the folders and their data alone.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Optional, Sequence

import pulumi
import pulumi_command as command

from sitespec.guide import DATA_FOLDERS, FOLDERS

from . import SSH_PRELUDE, TYPE_PREFIX, docker_cli_env

_MOUNT = "/o3-storage"


class StorageFolders(pulumi.ComponentResource):
    """Creates the site's folders (if missing) and tells the containers where they are."""

    paths: dict[str, str]
    """Absolute host path of each folder role (see guide.FOLDERS)."""
    ready: command.local.Command

    def __init__(
        self,
        name: str,
        storage_path: str,
        helper_image: pulumi.Input[str],
        docker_host: Optional[str],
        ssh_opts: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}StorageFolders", name, {"storagePath": storage_path, "dataFolders": list(DATA_FOLDERS)}, opts)
        self.paths = {role: posixpath.join(storage_path, rel) for role, rel in FOLDERS.items()}
        inside = " ".join(shlex.quote(f"{_MOUNT}/{rel}") for rel in FOLDERS.values())
        create = pulumi.Output.from_input(helper_image).apply(
            lambda image: SSH_PRELUDE + (
                "docker run --rm --network none --user 0 --entrypoint mkdir "
                f"-v {shlex.quote(storage_path)}:{_MOUNT} {shlex.quote(image)} -p {inside}"
            )
        )
        self.ready = command.local.Command(
            f"{name}-mkdir",
            create=create,
            environment=docker_cli_env(docker_host, ssh_opts),
            # Moving the storage path makes new folders; nothing is ever removed.
            triggers=[storage_path],
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, ignore_changes=["create"]),
        )
        self.register_outputs({"paths": self.paths})
