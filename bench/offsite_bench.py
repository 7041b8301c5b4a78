"""Off-host backup benchmark (prints figures; not a test): the site's own script
(components/scripts/offsite-backup.sh `run nightly`, as o3-offsite runs it) against rest-server
v0.14.0 append-only with TLS and a password on the off-site test host (netns o3bk), for a
DICOM-like data set (tests/e2e/dicomset.py: about 2,000 files, 2 GB by default): the first night
(everything), then a night with 1 % of the files changed and as many added (time and bytes).
The dump half is a stand-in: a 20 MB SQL text written into the exchange FIFO as o3-maintenance does.

Run (root: it makes a network namespace), with the Pulumi toolchain built:
  eval "$(scripts/pulumi-toolchain --env)"; .venv/bin/python bench/offsite_bench.py [--files 2000] [--file-bytes 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

import dicomset  # noqa: E402
from backuphost import SITE_USER, BackupHost  # noqa: E402
from sitespec import offsite  # noqa: E402

SCRIPT = ROOT / "components" / "scripts" / "offsite-backup.sh"
PASSWORD = "bench-restic-repository-pw"


def night(work: Path, host: BackupHost, env: dict) -> tuple[float, dict]:
    x = Path(env["O3_OFFSITE_EXCHANGE"])
    shutil.rmtree(x, ignore_errors=True)
    x.mkdir(parents=True)
    os.mkfifo(x / "dump.fifo")

    def writer():  # o3-maintenance's half: the dump into the FIFO once restic reads, then its status
        while not (x / "reading").exists():
            time.sleep(0.05)
        with open(x / "dump.fifo", "w") as f:
            f.write("-- o3-site: bench\n")
            for i in range(200_000):
                f.write(f"INSERT INTO t VALUES ({i}, 'row {i} of the bench dump, some text to make it longer');\n")
            f.write("-- Dump completed\n-- o3-row-counts {\"public_pacs.t\": 200000}\n")
        (x / "dump.rc").write_text("0\n")

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    start = time.monotonic()
    out = subprocess.run(["sh", str(SCRIPT), "run", "nightly"], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    t.join(5)
    if out.returncode != 0:
        raise SystemExit(f"the backup failed:\n{out.stdout}\n{out.stderr}")
    return seconds, json.loads(Path(env["O3_OFFSITE_STATUS"]).read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--file-bytes", type=int, default=1_000_000)
    ap.add_argument("--netns", default="o3bb", help="the off-site host's namespace (not the tests' o3bk)")
    ap.add_argument("--net", default="10.231.12", help="its /24")
    a = ap.parse_args()
    assert shutil.which("restic") and shutil.which("rest-server"), "eval \"$(scripts/pulumi-toolchain --env)\" first"
    work = Path(tempfile.mkdtemp(prefix="o3-bench-offsite-"))
    host = BackupHost(name=a.netns, net=a.net).up()
    try:
        storage = work / "storage"
        dicom = storage / "dicom"
        start = time.monotonic()
        files = dicomset.generate(dicom, files=a.files, file_bytes=a.file_bytes)
        size = sum(f.stat().st_size for f in files)
        print(f"[figures] data set: {len(files)} DICOM files, {size / 1e9:.2f} GB, written in {time.monotonic() - start:.0f} s")
        (storage / "pacs-shared-persist").mkdir()
        (storage / "view-shared-persist").mkdir()
        (work / "secrets").mkdir()
        (work / "secrets" / "password").write_text(PASSWORD)
        (work / "secrets" / "http-password").write_text(host.site_password)
        (work / "ca.pem").write_text(host.ca_pem)
        (work / "backups").mkdir()
        env = {**os.environ, "O3_SITE": "bench", "O3_BACKUPS": str(work / "backups"),
               "O3_OFFSITE_STATUS": str(work / "backups" / offsite.STATUS_FILE),
               "O3_OFFSITE_EXCHANGE": str(work / "backups" / ".o3-offsite"),
               "O3_OFFSITE_PATHS": " ".join(str(storage / p) for p in ("dicom", "pacs-shared-persist", "view-shared-persist")),
               "O3_OFFSITE_MANIFEST": str(work / "manifest" / "files.sha256"), "O3_STORAGE_ROOT": str(storage),
               "O3_DUMP_FILENAME": offsite.DUMP_FILENAME, "RESTIC_REPOSITORY": host.repository("bench"),
               "RESTIC_PASSWORD_FILE": str(work / "secrets" / "password"), "O3_SECRETS": str(work / "secrets"),
               "RESTIC_REST_USERNAME": SITE_USER, "RESTIC_CACERT": str(work / "ca.pem"),
               "RESTIC_CACHE_DIR": str(work / "cache")}
        seconds, st = night(work, host, env)
        print(f"[figures] night 1 (everything): {seconds:.1f} s, {st['added'] / 1e9:.3f} GB added "
              f"({size / 1e6 / seconds:.0f} MB/s of data set)")
        changed, added = dicomset.change(dicom, 0.01)
        delta = sum(p.stat().st_size for p in changed + added)
        seconds, st = night(work, host, env)
        repo = sum(p.stat().st_size for p in (host.data / "bench").rglob("*") if p.is_file())
        print(f"[figures] night 2 ({len(changed)} files changed, {len(added)} added, {delta / 1e6:.1f} MB new): "
              f"{seconds:.1f} s, {st['added'] / 1e6:.1f} MB added; repository {repo / 1e9:.2f} GB on the off-site host")
    finally:
        host.down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
