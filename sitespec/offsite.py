"""The off-host copies (o3:offsite): what the site side writes into the restic repository and where,
shared by the backup script's containers (components/), the operator's commands (ops.offsite,
ops.drill, ops.verify, ops.recover) and the tests. Standard library and sitespec only.

Repository layout (one repository per site; every snapshot `--host <site id> --tag o3`):
- dump snapshots, `--tag dump --tag nightly|pre-upgrade`: one file DUMP_FILENAME, the output of the
  dump command streamed with `--stdin-from-command` (never written to the host first). A nightly
  dump's last line is `ROW_COUNTS_PREFIX {"<schema>.<table>": N, ...}` (COUNT(*) right after the dump).
  A pre-upgrade dump is the gzip file the upgrade wrote to <storagePath>/backups, decompressed; it has
  no row-count line.
- storage snapshots, `--tag storage`: the folders of STORAGE_PATHS (read-only mounts) and MANIFEST,
  a sha256sum list of every file under STORAGE_ROOT, paths relative to it, made right before.
- the site writes STATUS_FILE in its backups folder after every run and prints one STATUS_PREFIX line.
"""

from __future__ import annotations

from typing import Optional

from .config import SiteConfig
from .guide import BACKUPS_MOUNT

CONTAINER = "o3-offsite"  # Docker: the long-running container of o3:images.restic
SCRIPT = "/o3/offsite-backup.sh"  # in that container
DUMP_SCRIPT = "/o3/offsite-dump.sh"  # in o3-maintenance (the db image), with o3:offsite only: its entrypoint
KUBE_SCRIPTS = "/o3/offsite"  # Kubernetes: both scripts, from the ConfigMap o3-offsite-scripts

TAG = "o3"
DUMP_TAG = "dump"
STORAGE_TAG = "storage"
KINDS = ("nightly", "pre-upgrade")  # the dump snapshots' second tag
DRILL_TAG, CHECK_TAG = "drill", "check"  # the operator's results (ops.drill, ops.offsite check)
DUMP_FILENAME = "o3-dump.sql"
ROW_COUNTS_PREFIX = "-- o3-row-counts "

# In the backup container: each data folder read-only under STORAGE_ROOT, by folder role (sitespec.guide.FOLDERS).
STORAGE_ROOT = "/o3/storage"
STORAGE_PATHS = {
    "storage": f"{STORAGE_ROOT}/dicom",
    "pacsSharedPersist": f"{STORAGE_ROOT}/pacs-shared-persist",
    "viewSharedPersist": f"{STORAGE_ROOT}/view-shared-persist",
}
MANIFEST = "/o3/manifest/files.sha256"

# The site's outcome: JSON {"at", "ok", "snapshot", "storage", "added", "message"} in the backups folder,
# and the same as one line `o3-offsite: ok snapshot=<id> storage=<id> added=<bytes>` / `o3-offsite: FAILED <why>`.
STATUS_FILE = ".o3-offsite-status"
STATUS_PREFIX = "o3-offsite:"
DAY_FILE = ".o3-offsite-day"  # in the backups folder: the last day (site time) o3-maintenance started a copy
# Where o3-maintenance (the db image: mysqldump) hands the dump to the restic container through a FIFO:
# on Docker a folder of the backups folder both mount; on Kubernetes an emptyDir of the Job's pod.
EXCHANGE = f"{BACKUPS_MOUNT}/.o3-offsite"

# Secret files in the restic container (uploaded / a Secret volume, mode 0400): never an env value.
SECRETS_DIR = "/run/o3-offsite"
SECRET_FILES = {
    "offsitePassword": "password",
    "offsiteHttpPassword": "http-password",
    "offsiteSshKey": "ssh-key",
}
KNOWN_HOSTS_FILE = "known_hosts"
CA_FILE = "ca.pem"


def file_content(key: str, value: str) -> str:
    """A secret as its file must hold it: an SSH key ends with a newline. `pulumi config set` from
    stdin drops the key file's last newline, and ssh then refuses the key ("error in libcrypto")."""
    if key.endswith(("SshKey", "ssh-key")) and not value.endswith("\n"):
        return value + "\n"
    return value


def site_id(cfg: SiteConfig, stack: Optional[str] = None) -> str:
    """The repository's `--host` of a site: o3:site.name (the stack name only when a config has none)."""
    name = cfg.site.name if cfg is not None else None
    if name:
        return name
    if not stack:
        raise ValueError("no o3:site.name and no stack name: cannot tell the site's snapshots apart")
    return stack


def script_env(cfg: SiteConfig) -> dict[str, str]:
    """The backup script's environment (no secret in it: the secrets are files in SECRETS_DIR)."""
    o = cfg.offsite
    assert o is not None
    env = {
        "O3_SITE": site_id(cfg),
        "O3_BACKUPS": BACKUPS_MOUNT,
        "O3_OFFSITE_STATUS": f"{BACKUPS_MOUNT}/{STATUS_FILE}",
        "O3_OFFSITE_EXCHANGE": EXCHANGE,
        "O3_OFFSITE_PATHS": " ".join(STORAGE_PATHS.values()),
        "O3_OFFSITE_MANIFEST": MANIFEST,
        "O3_STORAGE_ROOT": STORAGE_ROOT,
        "O3_DUMP_FILENAME": DUMP_FILENAME,
        "RESTIC_REPOSITORY": o.repository,
        "RESTIC_PASSWORD_FILE": f"{SECRETS_DIR}/{SECRET_FILES['offsitePassword']}",
        "O3_SECRETS": SECRETS_DIR,
    }
    if o.scheme == "rest":
        env["RESTIC_REST_USERNAME"] = o.http_user or ""
        if o.ca_cert:
            env["RESTIC_CACERT"] = f"{SECRETS_DIR}/{CA_FILE}"
    if o.scheme == "sftp":
        env["O3_SFTP_ARGS"] = (f"-i {SECRETS_DIR}/{SECRET_FILES['offsiteSshKey']} "
                               f"-o UserKnownHostsFile={SECRETS_DIR}/{KNOWN_HOSTS_FILE} -o BatchMode=yes")
    return env
