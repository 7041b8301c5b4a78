"""Benchmark: the real Pulumi engine against the vendor guide's manual procedure, on one Docker daemon.

Not a test: nothing here asserts a time; it prints medians over N runs, side by side.

  O3_TEST_DOCKER_HOST=unix:///run/o3-bench.sock .venv/bin/python bench/engine_bench.py [--runs 3]
      [--port-offset 0] [--subnet 172.16.1.0/24] [--policy]

What each run measures, on a new stack / a new compose project with fresh storage:
  fresh site    `pulumi up --yes --skip-preview` until pacs and view answer HTTP, against the guide:
                its .env and docker-compose.yml (same images, storage layout and env), `docker-compose
                up -d db`, wait for db healthy, the two `docker exec db mysql ... create schema`,
                `docker-compose up -d`, until pacs and view answer HTTP.
  preview       `pulumi preview --refresh --expect-no-changes` on the deployed stack (no manual twin).
  pacs bump     o3:images.pacs to its second version and `pulumi up`, against: edit the tag in .env,
                `docker-compose pull pacs pacs-singleton`, `docker-compose up -d`. A thread probes pacs's
                HTTP port every 100 ms (TCP connect + GET /); the downtime is the longest run of failed
                probes (first failed probe to the next answer).
  db bump       o3:images.db to its second version and `pulumi up`, against `docker-compose pull db`,
                `docker-compose up -d`; also the time until db is healthy and the apps answer again.
The stack is destroyed (`stack rm`), the compose project is brought `down` and both storage folders
are deleted between runs; before each fresh site and each bump the images concerned are removed from
the daemon, so both sides pull them (from a local registry on loopback, one stand-in image per version,
as the e2e tests do).

The daemon comes from O3_TEST_DOCKER_HOST and must be a disposable one: the bench creates and removes
containers named db, pacs, pacs-singleton and view. Needs scripts/pulumi-toolchain (it waits for a build
under way), Debian's docker-registry and docker-compose (v1, /usr/bin/docker-compose), and the stand-in
images (built here with tests/contract/build-standins.sh).

--port-offset K publishes on 127.0.0.1:8080+K / 8181+K / 4568+K (and MySQL on 3306+K), for a machine
where another site already uses the guide's ports; --subnet changes the o3net subnet on both sides
(two daemons on one host must not both hold the guide's 172.16.1.0/24).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from daemon import clean  # noqa: E402
from e2e_harness import (  # noqa: E402
    REPOS,
    VERSIONS,
    LocalRegistry,
    Project,
    StandinReleases,
    publish,
    stack_config,
    toolchain_env,
)
from site_fixtures import PASSWORD  # noqa: E402

COMPONENTS = ("db", "pacs", "view")
COMPOSE = "/usr/bin/docker-compose"
NOFILE_CAP = 20000  # this machine's nofile limit; the guide's 26677 / 46677 cannot be granted here
GUIDE_SUBNET = "172.16.1.0/24"

# The vendor guide's .env and docker-compose.yml, read from the guide itself ("Environment
# setup"); `guide_files` fills in the .env's {placeholders} and image lines and applies the
# substitutions listed in compose_changes.
GUIDE = Path(os.environ.get("O3_VENDOR_GUIDE") or ROOT.parent / "shared" / "spec" / "vendor-install-guide.txt")


def guide_texts() -> tuple[str, str]:
    """(the .env, the docker-compose.yml) exactly as the guide prints them."""
    g = GUIDE.read_text()
    start = g.index("## This is an example of the enviroment file")
    end = g.index("docker-compose.yml file\n", start)
    code = g.index("CODE\n", end) + len("CODE\n")
    return g[start:end], g[code:g.index("\nOnce both files are finalized", code)].rstrip("\n") + "\n"


def compose_changes(offset: int, subnet: str) -> list[tuple[str, str]]:
    """What this bench changes in the guide's compose file: ports on loopback (shifted by
    --port-offset), the nofile ulimits capped at this machine's limit, the subnet (--subnet), and
    no `env_file: .env` on the three app services. The last one because the stand-in app tells its
    role from the variables it is given (NGV_CONNECTION_STRING means view), and the guide's env_file
    hands every variable of .env to every container, so the stand-in pacs would play view (the real
    images know their role). The apps then get the variables their `environment:` lists, which are
    the ones the Pulumi program gives them."""
    no_env_file = [(f"    container_name: {c}\n    restart: always\n    env_file:\n      - .env\n",
                    f"    container_name: {c}\n    restart: always\n") for c in ("pacs", "pacs-singleton", "view")]
    return no_env_file + [
        ('      - "3306:3306"\n', f'      - "127.0.0.1:{3306 + offset}:3306"\n'),
        ("        soft: 26677\n        hard: 46677\n", f"        soft: {NOFILE_CAP}\n        hard: {NOFILE_CAP}\n"),
        ("      - 8080:8080\n      - 4568:4568\n",
         f'      - "127.0.0.1:{8080 + offset}:8080"\n      - "127.0.0.1:{4568 + offset}:4568"\n'),
        ("      - 8181:8181\n", f'      - "127.0.0.1:{8181 + offset}:8181"\n'),
        (f"      - subnet: {GUIDE_SUBNET}\n", f"      - subnet: {subnet}\n"),
    ]


def guide_files(folder: Path, storage: Path, images: dict[str, str], offset: int, subnet: str) -> None:
    """Write the guide's .env (0600: it holds the password, as the guide's does) and docker-compose.yml."""
    env, compose = guide_texts()
    for key, value in {"{pathToStorage}": str(storage), "{pathToDocker-ComposeFiles}": str(folder),
                       "{dbPassword}": PASSWORD, "{timezone}": "Europe/Rome"}.items():
        assert env.count(key) == 1, key
        env = env.replace(key, value)
    for var, comp in (("DB_IMAGE", "db"), ("PACS_IMAGE", "pacs"), ("VIEW_IMAGE", "view")):
        env, n = re.subn(rf"^{var}=\S+", f"{var}={images[comp]}", env, flags=re.M)
        assert n == 1, var
    for old, new in compose_changes(offset, subnet):
        assert compose.count(old) == 1, old
        compose = compose.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    dotenv = folder / ".env"
    dotenv.touch(mode=0o600)
    dotenv.chmod(0o600)
    dotenv.write_text(env)
    (folder / "docker-compose.yml").write_text(compose)


# --- probes ---------------------------------------------------------------------------------------

def get_json(port: int, timeout: float = 1.0) -> Optional[dict]:
    """GET / on 127.0.0.1:port; None when nothing (good) answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as r:
            return json.loads(r.read()) if r.status == 200 else None
    except (OSError, ValueError):
        return None


def wait_until(what: str, ready: Callable[[], bool], timeout: float = 300, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


class Probe(threading.Thread):
    """Every `interval` s: TCP connect + HTTP GET / on the port. The downtime window is the longest
    run of failed probes, from its first failed probe to the next probe that got an answer."""

    def __init__(self, port: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.samples: list[tuple[float, bool]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        tick = time.monotonic()
        while not self._halt.is_set():
            t = time.monotonic()
            self.samples.append((t, get_json(self.port, timeout=self.interval * 5) is not None))
            tick += self.interval
            self._halt.wait(max(0.0, tick - time.monotonic()))

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def window(self) -> tuple[float, int]:
        """(seconds, failed probes) of the longest run of failures."""
        best, best_n, start, n = 0.0, 0, None, 0
        for i, (t, ok) in enumerate(self.samples):
            if not ok:
                if start is None:
                    start, n = t, 0
                n += 1
                end = self.samples[i + 1][0] if i + 1 < len(self.samples) else t + self.interval
                if end - start > best:
                    best, best_n = end - start, n
            else:
                start = None
        return best, best_n


# --- the two procedures ---------------------------------------------------------------------------

class Bench:
    def __init__(self, args, docker_host: str):
        import docker

        self.args = args
        self.docker_host = docker_host
        self.off = args.port_offset
        self.ports = {"pacs": 8080 + self.off, "view": 8181 + self.off, "pacsService": 4568 + self.off}
        self.client = docker.DockerClient(base_url=docker_host, timeout=300)
        self.client.ping()
        self.tmp = Path(tempfile.mkdtemp(prefix="o3-engine-bench-"))
        self.registry: Optional[LocalRegistry] = None
        self.images: Optional[StandinReleases] = None
        self.samples: dict[str, list[float]] = {}
        self.notes: list[str] = []

    # setup ---------------------------------------------------------------------------------------
    def setup(self) -> None:
        print("toolchain: waiting for scripts/pulumi-toolchain (blocks while a build is under way) ...", flush=True)
        self.pulumi_env = toolchain_env()
        if self.args.policy and not (ROOT / "policy" / "venv" / "bin" / "python").exists():
            raise SystemExit("--policy needs policy/venv (scripts/test --e2e creates it)")
        out = subprocess.run([str(ROOT / "tests" / "contract" / "build-standins.sh")], capture_output=True, text=True,
                             env=dict(os.environ, DOCKER_HOST=self.docker_host))
        if out.returncode != 0:
            raise SystemExit(f"building the stand-in images failed:\n{out.stdout}\n{out.stderr}")
        tag = out.stdout.strip().split(":")[-1]
        standins = {"db": f"o3-standin-db:{tag}", "app": f"o3-standin-app:{tag}"}
        self.registry = LocalRegistry(self.tmp / "registry" / "storage")
        refs: dict[str, dict[str, str]] = {}
        ids = {}
        for comp in COMPONENTS:
            for v in VERSIONS[comp]:
                ref = f"{self.registry.host}/{REPOS[comp]}:{v}"
                ids[ref] = publish(self.client, standins["db" if comp == "db" else "app"], ref, v)
                refs.setdefault(comp, {})[v] = ref
        self.images = StandinReleases(self.registry.host, refs, ids)
        clean(self.client)

    def teardown(self) -> None:
        try:
            clean(self.client)
            self.remove_images()
        finally:
            if self.registry:
                self.registry.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    # helpers -------------------------------------------------------------------------------------
    def record(self, key: str, seconds: float) -> None:
        self.samples.setdefault(key, []).append(seconds)

    def remove_images(self, *refs: str) -> None:
        """Take images off the daemon so the next step pulls them (all the site's when none given)."""
        import docker

        for ref in refs or [r for c in COMPONENTS for r in self.images.refs[c].values()]:
            try:
                self.client.images.remove(ref, force=True)
            except docker.errors.ImageNotFound:
                pass

    def db_healthy(self) -> bool:
        try:
            c = self.client.containers.get("db")
        except Exception:  # noqa: BLE001 - not there yet
            return False
        return c.attrs["State"].get("Health", {}).get("Status") == "healthy"

    def answers(self, port: int, version: Optional[str] = None) -> bool:
        body = get_json(port)
        return body is not None and (version is None or body.get("version") == version)

    def wait_apps(self, pacs: str, view: str) -> None:
        wait_until(f"pacs {pacs} on :{self.ports['pacs']}", lambda: self.answers(self.ports["pacs"], pacs))
        wait_until(f"view {view} on :{self.ports['view']}", lambda: self.answers(self.ports["view"], view))

    def remove_storage(self, storage: Path) -> None:
        # MySQL's files belong to the container's mysql user: root (this script under sudo) removes them.
        shutil.rmtree(storage, ignore_errors=True)
        if storage.exists():
            raise RuntimeError(f"could not delete {storage}")

    # pulumi --------------------------------------------------------------------------------------
    def pulumi_run(self, i: int) -> None:
        im = self.images
        work = self.tmp / f"pulumi-{i}"
        storage = work / "storage"
        self.remove_images()
        project = Project(work, f"bench{i}", self.pulumi_env, secrets=[PASSWORD])
        config = stack_config(str(storage), im, self.docker_host, NOFILE_CAP, name="bench-site")
        config["o3:database"]["ulimits"] = {"nofileSoft": NOFILE_CAP, "nofileHard": NOFILE_CAP}
        # The guide publishes MySQL's port; here on loopback, as every other port.
        config["o3:database"].update({"publish": "loopback", "port": 3306 + self.off})
        config["o3:ports"] = {"bindAddress": "127.0.0.1", "pacsHttp": self.ports["pacs"],
                              "pacsService": self.ports["pacsService"], "viewHttp": self.ports["view"]}
        config["o3:network"] = {"subnet": self.args.subnet}
        project.init(config, {"o3:dbPassword": PASSWORD})
        policy = ["--policy-pack", str(ROOT / "policy")] if self.args.policy else []
        up = ("up", "--yes", "--skip-preview", *project.stack_args(), *policy)
        v0 = {c: VERSIONS[c][0] for c in COMPONENTS}
        v1 = {c: VERSIONS[c][1] for c in COMPONENTS}
        try:
            t = time.monotonic()
            project.pulumi(*up)
            self.record("fresh.cmd.pulumi", time.monotonic() - t)
            self.wait_apps(v0["pacs"], v0["view"])
            self.record("fresh.ready.pulumi", time.monotonic() - t)

            t = time.monotonic()
            project.pulumi("preview", "--refresh", "--expect-no-changes", *project.stack_args())
            self.record("preview.pulumi", time.monotonic() - t)

            self.remove_images(im.ref("pacs", 1))
            project.edit(lambda c: c["o3:images"].__setitem__("pacs", im.ref("pacs", 1)))
            self.pacs_bump("pulumi", lambda: project.pulumi(*up), v1["pacs"])

            self.remove_images(im.ref("db", 1))
            project.edit(lambda c: c["o3:images"].__setitem__("db", im.ref("db", 1)))
            t = time.monotonic()
            project.pulumi(*up)
            self.record("db.cmd.pulumi", time.monotonic() - t)
            wait_until("db healthy", self.db_healthy)
            self.wait_apps(v1["pacs"], v0["view"])
            self.record("db.ready.pulumi", time.monotonic() - t)
        finally:
            project.destroy(check=False)
            project.remove()
            clean(self.client)
            self.remove_storage(storage)
            shutil.rmtree(work, ignore_errors=True)

    def pacs_bump(self, side: str, apply: Callable[[], object], version: str) -> None:
        """Time `apply` (a pacs bump) and the pacs downtime window a 100 ms probe sees during it."""
        probe = Probe(self.ports["pacs"])
        probe.start()
        try:
            t = time.monotonic()
            apply()
            self.record(f"pacs.cmd.{side}", time.monotonic() - t)
            wait_until("pacs on its new version", lambda: self.answers(self.ports["pacs"], version))
            self.record(f"pacs.ready.{side}", time.monotonic() - t)
        finally:
            probe.stop()
        self.record(f"pacs.down.{side}", probe.window()[0])

    # the guide's procedure -----------------------------------------------------------------------
    def compose(self, folder: Path, *args: str) -> None:
        out = subprocess.run([COMPOSE, *args], cwd=folder, capture_output=True, text=True, timeout=900,
                             env=dict(os.environ, DOCKER_HOST=self.docker_host))
        if PASSWORD in out.stdout + out.stderr:
            raise RuntimeError(f"`docker-compose {' '.join(args)}` printed the password")
        if out.returncode != 0:
            raise RuntimeError(f"`docker-compose {' '.join(args)}` exited {out.returncode}:\n{(out.stdout + out.stderr)[-4000:]}")

    def create_schemas(self) -> None:
        """The guide's two `docker exec db mysql -u root -p${DB_PASSWORD} -e "create schema ..."`, with
        the password in MYSQL_PWD (docker exec -e NAME copies it from this environment), not on argv."""
        env = dict(os.environ, DOCKER_HOST=self.docker_host, MYSQL_PWD=PASSWORD)
        for schema in ("public_pacs", "public_view"):
            out = subprocess.run(["docker", "exec", "-e", "MYSQL_PWD", "db", "mysql", "-u", "root", "-e",
                                  f"create schema {schema}"], env=env, capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                raise RuntimeError(f"create schema {schema} failed: {out.stderr[-2000:]}")

    def compose_run(self, i: int) -> None:
        im = self.images
        work = self.tmp / f"compose-{i}"
        folder, storage = work / "compose-files", work / "storage"
        self.remove_images()
        refs = {c: im.ref(c, 0) for c in COMPONENTS}
        guide_files(folder, storage, refs, self.off, self.args.subnet)
        storage.mkdir(parents=True)  # the guide: "Create the directory if not already present"
        v0 = {c: VERSIONS[c][0] for c in COMPONENTS}
        v1 = {c: VERSIONS[c][1] for c in COMPONENTS}
        try:
            t = time.monotonic()
            self.compose(folder, "up", "-d", "db")
            wait_until("db healthy", self.db_healthy)
            self.create_schemas()
            self.compose(folder, "up", "-d")
            self.record("fresh.cmd.compose", time.monotonic() - t)
            self.wait_apps(v0["pacs"], v0["view"])
            self.record("fresh.ready.compose", time.monotonic() - t)

            # The guide's update: the new tag in .env, then pull and `up -d`.
            self.remove_images(im.ref("pacs", 1))
            refs["pacs"] = im.ref("pacs", 1)
            guide_files(folder, storage, refs, self.off, self.args.subnet)
            self.pacs_bump("compose", lambda: (self.compose(folder, "pull", "pacs", "pacs-singleton"),
                                               self.compose(folder, "up", "-d")), v1["pacs"])

            self.remove_images(im.ref("db", 1))
            refs["db"] = im.ref("db", 1)
            guide_files(folder, storage, refs, self.off, self.args.subnet)
            t = time.monotonic()
            self.compose(folder, "pull", "db")
            self.compose(folder, "up", "-d")
            self.record("db.cmd.compose", time.monotonic() - t)
            wait_until("db healthy", self.db_healthy)
            self.wait_apps(v1["pacs"], v0["view"])
            self.record("db.ready.compose", time.monotonic() - t)
        finally:
            try:
                self.compose(folder, "down")
            except Exception as e:  # noqa: BLE001 - clean() below removes what is left
                self.notes.append(f"compose down (run {i}): {e}")
            clean(self.client)
            self.remove_storage(storage)
            shutil.rmtree(work, ignore_errors=True)


# --- report ---------------------------------------------------------------------------------------

ROWS = [
    # key, label, goal (text, check on (pulumi median, compose median) or None)
    ("fresh.ready", "fresh site, until pacs+view answer", ("<= 1.5x manual", lambda p, c: p <= 1.5 * c)),
    ("fresh.cmd", "  of which the commands", None),
    ("preview", "no-change preview --refresh", ("<= 5 s", lambda p, c: p <= 5.0)),
    ("pacs.cmd", "pacs bump: up / pull+up -d", None),
    ("pacs.ready", "pacs bump: until new version answers", None),
    ("pacs.down", "pacs bump: downtime window", ("<= compose's", lambda p, c: p <= c)),
    ("db.cmd", "db bump: up / pull+up -d", None),
    ("db.ready", "db bump: until db healthy + apps answer", None),
]


def median(samples: Optional[list[float]]) -> Optional[float]:
    return statistics.median(samples) if samples else None


def report(bench: Bench, runs: int) -> None:
    s = bench.samples
    fmt = lambda v: f"{v:8.2f} s" if v is not None else f"{'-':>10}"  # noqa: E731
    print()
    print(f"runs: {runs}   daemon: {bench.docker_host}   cores: {os.cpu_count()}   "
          f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("medians; 'compose' is the vendor guide's manual procedure (docker-compose v1) on the same daemon and images")
    print(f"{'measure':<42}{'pulumi':>10}{'compose':>10}{'ratio':>9}   goal")
    for key, label, goal in ROWS:
        p, c = median(s.get(f"{key}.pulumi")), median(s.get(f"{key}.compose"))
        ratio = f"{p / c:8.2f}x" if p is not None and c else f"{'-':>9}"
        goal_text = ""
        if goal:
            text, check = goal
            met = None
            if p is not None and (c is not None or key == "preview"):
                met = check(p, c)
            goal_text = f"{text:<16} {'met' if met else 'NOT met' if met is False else 'n/a'}"
        print(f"{label:<42}{fmt(p)}{fmt(c)}{ratio}   {goal_text}")
    print()
    print("samples (s):")
    for key in sorted(s):
        print(f"  {key:<22} " + " ".join(f"{v:.2f}" for v in s[key]))
    for n in bench.notes:
        print(f"note: {n}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="?", type=int, default=None, help="runs per measure (default 3)")
    ap.add_argument("--runs", dest="runs_opt", type=int, default=None, help="same as the positional runs")
    ap.add_argument("--port-offset", type=int, default=int(os.environ.get("O3_BENCH_PORT_OFFSET", "0")),
                    help="publish on 8080+K, 8181+K, 4568+K, 3306+K (env O3_BENCH_PORT_OFFSET)")
    ap.add_argument("--subnet", default=os.environ.get("O3_BENCH_SUBNET", GUIDE_SUBNET),
                    help=f"o3net subnet on both sides (default the guide's {GUIDE_SUBNET}; env O3_BENCH_SUBNET)")
    ap.add_argument("--policy", action="store_true", help="run each `pulumi up` with the policy pack")
    args = ap.parse_args()
    runs = args.runs_opt or args.runs or 3
    docker_host = os.environ.get("O3_TEST_DOCKER_HOST")
    if not docker_host:
        print("O3_TEST_DOCKER_HOST is not set: name a disposable Docker daemon (the bench creates and removes "
              "containers named db, pacs, pacs-singleton and view), e.g. the one `tests/dockerd.sh start` prints",
              file=sys.stderr)
        return 2
    for tool in (COMPOSE, shutil.which("docker-registry"), shutil.which("docker")):
        if not tool or not os.path.exists(tool):
            print(f"missing: {tool or 'docker-registry / docker'}", file=sys.stderr)
            return 2
    bench = Bench(args, docker_host)
    failed = None
    try:
        bench.setup()
        for i in range(runs):
            # Interleaved, so a change in the machine's load hits both sides alike.
            print(f"run {i + 1}/{runs}: pulumi ...", flush=True)
            bench.pulumi_run(i)
            print(f"run {i + 1}/{runs}: compose ...", flush=True)
            bench.compose_run(i)
    except Exception as e:  # noqa: BLE001 - print what was measured, then the error
        failed = e
        traceback.print_exc()
    finally:
        bench.teardown()
    report(bench, runs)
    if failed:
        print(f"\nINCOMPLETE: {type(failed).__name__}: {str(failed).splitlines()[0] if str(failed) else ''}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
