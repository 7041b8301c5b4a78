"""What the vendor guide fixes and the applications can see: names, folders, mounts, env formats.

Kept in one place so a reviewer can hold it next to `vendor-install-guide.txt` line by line.
Standard library only: the policy pack reads the names too.
"""

from __future__ import annotations

DB_CONTAINER = "db"
PACS_CONTAINER = "pacs"
SINGLETON_CONTAINER = "pacs-singleton"
VIEW_CONTAINER = "view"
SCHEMAS = ("public_pacs", "public_view")
MYSQL_PORT = 3306
RESTART = "always"

# Container ports (the guide's "8080:8080", "4568:4568", "8181:8181").
PACS_HTTP_PORT = 8080
PACS_SERVICE_PORT = 4568
VIEW_HTTP_PORT = 8181

BACKUP_FOLDER = "backups"  # <storagePath>/backups
PERIODIC_SERVICES_ENV = "START_PERIODIC_SERVICES"  # "true" in pacs-singleton only

# Host folders under ${STORAGE}, by role.
FOLDERS = {
    "db": "compose/db",
    "storage": "compose/storage",
    "pacsLog": "compose/pacs/log",
    "pacsSharedPersist": "compose/pacs/shared-persist",
    "viewSharedPersist": "compose/view/shared-persist",
    "viewLog": "compose/view/log",
    "backups": BACKUP_FOLDER,  # not in the guide: the dumps this tool takes
}
# Folders holding data that must outlive every container and `pulumi destroy`.
DATA_FOLDERS = ("db", "storage", "pacsSharedPersist", "viewSharedPersist", "backups")

# (folder role, mount point) per container, exactly as the guide's volumes.
MOUNTS = {
    DB_CONTAINER: [("db", "/var/lib/mysql")],
    PACS_CONTAINER: [
        ("storage", "/opt/storagePacs"),
        ("pacsLog", "/opt/ipm/log"),
        ("pacsSharedPersist", "/opt/ipm/shared-persist"),
    ],
    SINGLETON_CONTAINER: [
        ("storage", "/opt/storagePacs"),
        ("pacsLog", "/opt/ipm/log"),
    ],
    VIEW_CONTAINER: [
        ("storage", "/opt/storagePacs"),
        ("viewSharedPersist", "/opt/ipv/shared-persist"),
        ("viewLog", "/opt/ipv/log"),
    ],
}

_DRIVER = "driverClassName=com.mysql.cj.jdbc.Driver"


def connection_strings(password: str, user: str = "root") -> dict[str, str]:
    """The guide's three connection strings; note DPACS has `3306/;schema=` and ULTIMATE `3306;schema=`.

    They carry the DB password: the program hands them out as Pulumi secrets only. The user is
    the guide's root, except for a hospital's own MySQL on Kubernetes (o3:kubernetes.database.user).
    """
    db = f"jdbc:mysql://{DB_CONTAINER}:{MYSQL_PORT}"
    return {
        "NGV_CONNECTION_STRING": f"{_DRIVER};jdbcUrl={db}/public_view;username={user};password={password}",
        "DPACS_CONNECTION_STRING": f"{_DRIVER};jdbcUrl={db}/;schema=public_pacs;username={user};password={password}",
        "ULTIMATE_CONNECTION_STRING": f"{_DRIVER};jdbcUrl={db};schema=public_pacs;username={user};password={password}",
    }


# A generated MySQL password (when o3:dbPassword is not set): letters and digits only, as it goes
# into the ';'-separated connection strings.
GENERATED_PASSWORD_LENGTH = 32
GENERATED_PASSWORD_SPECIAL = False


# --- Beyond the guide: what this tool adds on the site's host --------------------------------
# Not seen by the applications; named so an operator recognises them next to the guide's four.

PROXY_CONTAINER = "o3-proxy"  # the HTTPS front door (o3:tls)
MAINTENANCE_CONTAINER = "o3-maintenance"  # nightly dumps and log pruning
PROXY_VIEW_PORT, PROXY_PACS_PORT = 443, 8443  # inside the proxy container
DB_PASSWORD_FILE = "/etc/o3-db-root-password"  # the root password as a file, in db and in o3-maintenance
MAINTENANCE_SCRIPT = "/o3/maintenance.sh"  # in o3-maintenance: what the ops commands run there
BACKUPS_MOUNT = "/backups"  # <storagePath>/backups inside o3-maintenance and the pre-upgrade dump
# One dump for every backup (pre-upgrade, nightly, on demand): consistent (one transaction),
# with routines, events and triggers, both schemas.
DUMP_OPTIONS = ("--single-transaction", "--routines", "--events", "--triggers")
# Dump file names in <storagePath>/backups, by kind: <prefix><UTC time>[...].sql.gz
DUMP_PREFIXES = {"backup": "o3-backup-", "nightly": "o3-nightly-", "manual": "o3-manual-"}
NIGHTLY_STATUS_FILE = ".o3-nightly-status"  # in the backups folder: the last nightly run's outcome
NIGHTLY_DAY_FILE = ".o3-nightly-day"  # in the backups folder: the last day a nightly dump was attempted
SITE_MARKER = "-- o3-site: "  # first line of every dump: which site it belongs to


# On Kubernetes: the data volume (a ReadWriteMany claim laid out as FOLDERS), the db's volume, and
# the Secret holding the MySQL password and the connection strings.
KUBE_DATA_VOLUME = "o3-data"
KUBE_DB_VOLUME = "db-data"
KUBE_DB_SECRET = "o3-db"


def script_env(site: str) -> dict[str, str]:
    """The names above as the environment of the shell scripts (components/scripts/), so that shell
    and Python share one definition of each."""
    return {
        "O3_DB_HOST": DB_CONTAINER,
        "O3_BACKUPS": BACKUPS_MOUNT,
        "O3_SCHEMAS": " ".join(SCHEMAS),
        "O3_DUMP_OPTIONS": " ".join(DUMP_OPTIONS),
        "O3_PASSWORD_FILE": DB_PASSWORD_FILE,
        "O3_BACKUP_PREFIX": DUMP_PREFIXES["backup"],
        "O3_NIGHTLY_PREFIX": DUMP_PREFIXES["nightly"],
        "O3_MANUAL_PREFIX": DUMP_PREFIXES["manual"],
        "O3_STATUS_FILE": NIGHTLY_STATUS_FILE,
        "O3_DAY_FILE": NIGHTLY_DAY_FILE,
        "O3_SITE": site,
        "O3_SITE_MARKER": SITE_MARKER + site,
    }


# Mount points in front of data folders: what must be a host bind mount under the storage path.
DATA_MOUNTS = tuple(sorted({point for mounts in MOUNTS.values() for role, point in mounts if role in DATA_FOLDERS}
                           | {BACKUPS_MOUNT}))
