"""What preflight and verify both measure on a site's Docker host, through helper containers."""

from __future__ import annotations

from typing import Any, Optional


class HostProbe:
    """A Docker host as the commands measure it: the Engine API plus throw-away helper containers."""

    def __init__(self, client: Any, helper_image: str):
        self.client = client
        self.helper_image = helper_image
        self._helper_ok: Optional[bool] = None

    def helper_ready(self) -> bool:
        if self._helper_ok is None:
            import docker

            try:
                self.client.images.get(self.helper_image)
                self._helper_ok = True
            except docker.errors.ImageNotFound:
                try:
                    self.client.images.pull(self.helper_image)
                    self._helper_ok = True
                except docker.errors.APIError:
                    self._helper_ok = False
        return self._helper_ok

    def run(self, script: str, **kwargs: Any) -> str:
        """Run a shell snippet in a throw-away helper container; its stdout.

        Removed afterwards even when it fails to start (a refused ulimit leaves it "Created")."""
        import docker

        c = self.client.containers.create(self.helper_image, entrypoint=["sh", "-c", script], user="0", **kwargs)
        try:
            c.start()
            code = c.wait(timeout=60)["StatusCode"]
            out = c.logs(stdout=True, stderr=False).decode(errors="replace")
            if code != 0:
                raise docker.errors.ContainerError(c, code, script, self.helper_image, c.logs(stdout=False, stderr=True))
            return out
        finally:
            c.remove(force=True, v=True)  # v: images such as mysql declare volumes


def free_gb(host: HostProbe, storage_path: str) -> tuple[float, str]:
    """Free GB on the file system that holds (or will hold) storage_path, and that folder."""
    script = (
        f'p="/host{storage_path}"; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; '
        'df -Pk "$p" | tail -1; echo "$p"'
    )
    out = host.run(script, volumes={"/": {"bind": "/host", "mode": "ro"}}, network_mode="none").splitlines()
    avail_kb = int(out[0].split()[3])
    return avail_kb / 1024**2, out[1][len("/host"):] or "/"
