"""MySQL 5.7 is supported by the vendor but not recommended."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts
from sitespec.imageref import mysql_version

from ._rule import Report, Rule

REMEDIATION = "plan a move to mysql:8.0.x (take a backup first)."


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    image = site.db_image
    if image and mysql_version(image.ref) == "5.7":
        report(f"database image '{image.ref}' is MySQL 5.7: supported but not recommended by the vendor. Fix: {REMEDIATION}",
               image.urn)


RULE = Rule(
    name="o3-database-mysql-8-recommended",
    enforcement=EnforcementLevel.ADVISORY,
    description="MySQL 5.7 is supported but not recommended; the vendor highly recommends MySQL 8.0.",
    remediation=REMEDIATION,
    check=check,
)
