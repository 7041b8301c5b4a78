"""MySQL 5.7 is supported by the vendor but not recommended."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from sitespec.imageref import mysql_version

from .mysql_supported import db_image


def validate(args: Any, report: Callable) -> None:
    found = db_image(args.resources)
    if found and mysql_version(found[1]) == "5.7":
        report(f"database image '{found[1]}' is MySQL 5.7: supported but not recommended by the vendor. "
               "Fix: plan a move to mysql:8.0.x (take a backup first).", found[0].urn)


POLICY = StackValidationPolicy(
    name="o3-database-mysql-8-recommended",
    description="MySQL 5.7 is supported but not recommended; the vendor highly recommends MySQL 8.0.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate,
)
