"""Stand-in for the O3 pacs / pacs-singleton / view images.

It does what the real applications do with what the site program gives them: reads the
connection-string variables exactly as the vendor's apps receive them, connects to db:3306 with
them, checks that its schema exists, writes a row and files to its mounted folders, and answers
HTTP on its published ports. The role follows from the variables it was given.
"""

import http.server
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time

import pymysql

ROLES = {
    # role: (connection-string variables, folders it writes, ports it serves)
    "pacs": (["DPACS_CONNECTION_STRING"], ["/opt/storagePacs", "/opt/ipm/log", "/opt/ipm/shared-persist"], [8080, 4568]),
    "pacs-singleton": (["DPACS_CONNECTION_STRING"], ["/opt/storagePacs", "/opt/ipm/log"], [8080]),  # not published
    "view": (["NGV_CONNECTION_STRING", "ULTIMATE_CONNECTION_STRING"], ["/opt/storagePacs", "/opt/ipv/shared-persist", "/opt/ipv/log"], [8181]),
}


def role() -> str:
    if "NGV_CONNECTION_STRING" in os.environ:
        return "view"
    if os.environ.get("START_PERIODIC_SERVICES") == "true":
        return "pacs-singleton"
    return "pacs"


def parse(cs: str) -> dict:
    """The vendor's `driverClassName=...;jdbcUrl=jdbc:mysql://db:3306/...;[schema=...;]username=...;password=...`."""
    parts = dict(p.split("=", 1) for p in cs.split(";") if p)
    m = re.fullmatch(r"jdbc:mysql://([^:/]+):(\d+)(?:/([^;]*))?", parts["jdbcUrl"])
    if not m or parts.get("driverClassName") != "com.mysql.cj.jdbc.Driver":
        raise ValueError("connection string is not in the vendor's format")
    schema = parts.get("schema") or m.group(3)
    if not schema:
        raise ValueError("connection string names no schema")
    return {"host": m.group(1), "port": int(m.group(2)), "schema": schema, "user": parts["username"], "password": parts["password"]}


def check_db(name: str, cs: dict, me: str) -> dict:
    deadline = time.time() + 60
    while True:
        try:
            conn = pymysql.connect(host=cs["host"], port=cs["port"], user=cs["user"], password=cs["password"], connect_timeout=5)
            break
        except pymysql.err.OperationalError as e:
            if time.time() > deadline:
                raise RuntimeError(f"{name}: cannot connect to {cs['host']}:{cs['port']}: {e.args[0]}") from None
            time.sleep(1)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (cs["schema"],))
        if cur.fetchone() is None:
            raise RuntimeError(f"{name}: schema {cs['schema']} does not exist")
        cur.execute(f"CREATE TABLE IF NOT EXISTS `{cs['schema']}`.standin (id INT AUTO_INCREMENT PRIMARY KEY, role VARCHAR(32), at DATETIME)")
        cur.execute(f"INSERT INTO `{cs['schema']}`.standin (role, at) VALUES (%s, NOW())", (me,))
        conn.commit()
        cur.execute(f"SELECT COUNT(*) FROM `{cs['schema']}`.standin")
        rows = cur.fetchone()[0]
    return {"variable": name, "schema": cs["schema"], "rows": rows}


SILENT = "/opt/o3-standin/silent"  # the e2e tests' release that never answers has this file


def version() -> str:
    """The release this image plays (the e2e tests publish one image per version)."""
    try:
        with open("/opt/o3-standin/version") as f:
            return f.read().strip()
    except OSError:
        return "unversioned"


def main() -> int:
    me = role()
    variables, folders, ports = ROLES[me]
    status = {"role": me, "version": version(), "tz": os.environ.get("TZ"), "logTo": os.environ.get("LOG_TO"),
              "databases": [], "files": []}
    try:
        for v in variables:
            status["databases"].append(check_db(v, parse(os.environ[v]), me))
        for folder in folders:
            path = os.path.join(folder, f"standin-{me}.txt")
            with open(path, "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {me} started\n")
            status["files"].append(path)
    except Exception as e:  # noqa: BLE001 - the container's exit status is the report
        print(f"stand-in {me}: FAILED: {e}", file=sys.stderr, flush=True)
        return 1
    status["ok"] = True
    body = json.dumps(status).encode()
    print(f"stand-in {me}: ready {json.dumps(status)}", flush=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    # Stop on `docker stop` as the vendor's Java apps do (PID 1 has no default SIGTERM action):
    # otherwise every stop waits out the whole grace period, which no real site does.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if os.path.exists(SILENT):  # a broken release: it starts and listens, and never answers
        print(f"stand-in {me}: listening without answering ({SILENT})", flush=True)
        held = [socket.create_server(("0.0.0.0", p), backlog=64) for p in ports]  # noqa: F841 - kept open
        while True:
            time.sleep(3600)
    servers = [socketserver.ThreadingTCPServer(("0.0.0.0", p), Handler) for p in ports]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
