"""What the vendor guide fixes and the applications can see: names, folders, mounts, env formats.

Kept in one place so a reviewer can hold it next to `vendor-install-guide.txt` line by line.
"""

from __future__ import annotations

import pulumi

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

# Host folders under ${STORAGE}, by role.
FOLDERS = {
    "db": "compose/db",
    "storage": "compose/storage",
    "pacsLog": "compose/pacs/log",
    "pacsSharedPersist": "compose/pacs/shared-persist",
    "viewSharedPersist": "compose/view/shared-persist",
    "viewLog": "compose/view/log",
}
# Folders holding data that must outlive every container and `pulumi destroy`.
DATA_FOLDERS = ("db", "storage", "pacsSharedPersist", "viewSharedPersist")

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


def connection_strings(password: pulumi.Input[str]) -> dict[str, pulumi.Output[str]]:
    """The guide's three connection strings; note DPACS has `3306/;schema=` and ULTIMATE `3306;schema=`.

    The results are Pulumi secrets: they carry the DB password.
    """
    db = f"jdbc:mysql://{DB_CONTAINER}:{MYSQL_PORT}"
    formats = {
        "NGV_CONNECTION_STRING": f"{_DRIVER};jdbcUrl={db}/public_view;username=root;password={{}}",
        "DPACS_CONNECTION_STRING": f"{_DRIVER};jdbcUrl={db}/;schema=public_pacs;username=root;password={{}}",
        "ULTIMATE_CONNECTION_STRING": f"{_DRIVER};jdbcUrl={db};schema=public_pacs;username=root;password={{}}",
    }
    return {
        name: pulumi.Output.secret(pulumi.Output.from_input(password).apply(fmt.format))
        for name, fmt in formats.items()
    }
