"""The database image is MySQL 8.0 (or 5.7, which the next rule flags)."""

from typing import Any, Callable, Optional

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from sitespec import imageref

from sitespec.guide import DB_CONTAINER

from . import _kube
from .common import DB_IMAGE_SUFFIX, REMOTE_IMAGE, known


def db_image(resources) -> Optional[tuple[Any, str]]:
    """(resource, reference) of the MySQL image: the RemoteImage `<site>-db-image` on Docker, the
    StatefulSet `db` on Kubernetes (none with an external MySQL)."""
    for r in resources:
        if r.resource_type == REMOTE_IMAGE and r.name.endswith(DB_IMAGE_SUFFIX):
            return r, known(r.props, "name", "")
    for w in _kube.workloads(resources, (_kube.STATEFULSET,)):
        if w.name == DB_CONTAINER:
            for c in _kube.containers(w):
                if known(c, "name") == DB_CONTAINER:
                    return w.resource, known(c, "image", "")
    return None


def validate(args: Any, report: Callable) -> None:
    found = db_image(args.resources)
    if found is None:
        return
    r, ref = found
    problem = imageref.mysql_problem(ref)
    if problem:
        report(f"{problem}. Fix: set o3:images.db to mysql:8.0.x (default mysql:8.0.34).", r.urn)


POLICY = StackValidationPolicy(
    name="o3-database-mysql",
    description="The database is the MySQL the vendor supports: MySQL 8.0 (5.7 is tolerated).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
