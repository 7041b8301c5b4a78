"""Every container's Docker log is bounded: a full disk stops the archive.

On Kubernetes a container's log is the kubelet's (its containerLogMaxSize and
containerLogMaxFiles, node settings the cluster's administrators own): no pod spec can bound it,
so the rule has nothing to check there. The apps' own log folders on the data volume are pruned
by the nightly CronJob (o3:logs.retainDays), as by o3-maintenance on Docker."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from .common import CONTAINER, known

BOUNDED_DRIVERS = {"json-file", "local"}  # the drivers that write to the host's disk


def validate(args: Any, report: Callable) -> None:
    if args.resource_type != CONTAINER:
        return
    driver = known(args.props, "logDriver", "json-file")
    opts = known(args.props, "logOpts", {})
    if driver in BOUNDED_DRIVERS and not (known(opts, "max-size") and known(opts, "max-file")):
        report(f"container '{known(args.props, 'name', '?')}' logs with '{driver}' without max-size and max-file: "
               "its log grows until the disk is full. Fix: o3:logs.maxSizeMb / maxFiles (the program sets both).")


POLICY = ResourceValidationPolicy(
    name="o3-log-limits",
    description="Every container's Docker log has a size limit and a file count.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
