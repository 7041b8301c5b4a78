"""The database image is MySQL 8.0 (or 5.7, which o3-database-mysql-8-recommended flags)."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec import imageref
from sitespec.facts import SiteFacts

from ._rule import Report, Rule

REMEDIATION = "set o3:images.db to mysql:8.0.x (default mysql:8.0.34)."


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    if site.db_image is None:  # an external MySQL
        return
    problem = imageref.mysql_problem(site.db_image.ref)
    if problem:
        report(f"{problem}. Fix: {REMEDIATION}", site.db_image.urn)


RULE = Rule(
    name="o3-database-mysql",
    enforcement=EnforcementLevel.MANDATORY,
    description="The database is the MySQL the vendor supports: MySQL 8.0 (5.7 is tolerated).",
    remediation=REMEDIATION,
    check=check,
)
