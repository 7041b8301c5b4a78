"""The database image is MySQL 8.0 (or 5.7, which the next rule flags)."""

from typing import Any, Callable, Optional

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from sitespec import imageref

from .common import DB_IMAGE_SUFFIX, REMOTE_IMAGE, known


def db_image(resources) -> Optional[tuple[Any, str]]:
    for r in resources:
        if r.resource_type == REMOTE_IMAGE and r.name.endswith(DB_IMAGE_SUFFIX):
            return r, known(r.props, "name", "")
    return None


def mysql_version(ref: str) -> Optional[str]:
    """'8.0' / '5.7' / other major.minor of an official-looking mysql image, else None."""
    parsed = imageref.parse(ref)
    if parsed is None or parsed.repository != "mysql" or not parsed.tag:
        return None
    parts = parsed.tag.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else parsed.tag


def validate(args: Any, report: Callable) -> None:
    found = db_image(args.resources)
    if found is None:
        return
    r, ref = found
    version = mysql_version(ref)
    if version not in ("8.0", "5.7"):
        report(f"database image '{ref}' is not MySQL 8.0 (the vendor supports MySQL 8.0, and 5.7). "
               "Fix: set o3:images.db to mysql:8.0.x (default mysql:8.0.34).", r.urn)


POLICY = StackValidationPolicy(
    name="o3-database-mysql",
    description="The database is the MySQL the vendor supports: MySQL 8.0 (5.7 is tolerated).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
