"""Bump one image's version in the stack files of a rollout ring (or of named sites).

    python -m ops.bump --component pacs --version 2.8.2 --ring canary
    python -m ops.bump --component view --version 3.5.0 --site riverside --site north-clinic

Only the tag of `o3:images.<component>` changes; comments, order and layout of the files are
kept (ruamel.yaml round trip). Refused, with the reason, before anything is written: an
unpinned (`latest`, empty) or placeholder (`{X.Y.Z}`) version, a version the site's own
validation or the policy pack's mandatory rules would refuse (e.g. a MySQL that is not 8.0),
and a downgrade (or a change that cannot be ordered, e.g. to a digest) unless
--allow-downgrade says it is meant. Every file is changed and re-validated in memory first;
files are only written when all of them are good, each atomically (temp file + rename).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from ruamel.yaml import YAML

from sitespec import imageref
from sitespec.config import DEFAULT_DB_IMAGE, RINGS, ConfigError
from sitespec.stackfile import StackFileError, merge, ring, stack_names, validate

from ._cli import OpsError, add_dir_argument, run

COMPONENTS = ("pacs", "view", "db")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


class BumpError(OpsError):
    pass


def _yaml() -> YAML:
    y = YAML()  # round trip: comments and order survive
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long lines (image references)
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def check_version(version: str) -> None:
    if not version or imageref.has_placeholder(version):
        raise BumpError(f"version '{version}' is empty or still a placeholder: give the exact version, e.g. 2.8.2")
    if version == "latest":
        raise BumpError("'latest' is not a version: give the exact version your O3 contact gave you, e.g. 2.8.2")
    if not (_TAG.match(version) or _DIGEST.match(version)):
        raise BumpError(f"'{version}' is not a valid image tag (letters, digits, '_', '.', '-') or sha256 digest")


def with_version(ref: str, version: str) -> str:
    parsed = imageref.parse(ref)
    if parsed is None:
        raise BumpError(f"current reference '{ref}' is not a valid image reference")
    return f"{parsed.name}@{version}" if version.startswith("sha256:") else f"{parsed.name}:{version}"


@dataclass
class Change:
    stack: str
    path: Path
    old: str
    new: str
    text: str  # the new file content


def plan(root: Path, component: str, version: str, ring_name: Optional[str], sites: Sequence[str],
         allow_downgrade: bool = False) -> list[Change]:
    """What the bump would write, fully validated; raises BumpError before anything is written."""
    if component not in COMPONENTS:
        raise BumpError(f"unknown component '{component}': choose one of {', '.join(COMPONENTS)}")
    check_version(version)
    known = stack_names(root)
    unknown = [s for s in sites if s not in known]
    if unknown:
        raise BumpError(f"unknown site(s) {', '.join(unknown)}: stacks here are {', '.join(known) or 'none'}")
    y = _yaml()
    project = YAML(typ="safe").load((root / "Pulumi.yaml").read_text())
    docs: dict[str, Any] = {}
    for stack in known:
        path = root / f"Pulumi.{stack}.yaml"
        try:
            docs[stack] = y.load(path.read_text())
        except Exception as e:  # ruamel raises several parser/scanner types
            if not sites or stack in sites:
                raise BumpError(f"{path.name} is not valid YAML, nothing was changed: {e}") from None
    if not sites:
        try:  # every ring must be readable: a misspelt one would silently leave its site out
            rings = {s: ring((docs[s] or {}).get("config") if hasattr(docs[s], "get") else None, f"Pulumi.{s}.yaml")
                     for s in known if s in docs}
        except StackFileError as e:
            raise BumpError(f"{e}; nothing was changed") from None
    targets = list(sites) or [s for s in known if s in docs and rings[s] == ring_name]
    if not targets:
        raise BumpError(f"no site is in ring '{ring_name}' (rings: {', '.join(RINGS)})")
    changes = []
    for stack in targets:
        path = root / f"Pulumi.{stack}.yaml"
        doc = docs[stack]
        images = _images(doc, path)
        old = images.get(component) or (DEFAULT_DB_IMAGE if component == "db" else None)
        if old is None:
            raise BumpError(f"{path.name} has no o3:images.{component} to bump")
        new = with_version(str(old), version)
        if new == old:
            continue
        if component == "db" and (problem := imageref.mysql_problem(new)):
            raise BumpError(f"{path.name}: {problem}; the policy pack's mandatory rule o3-database-mysql would "
                            "refuse the deployment, so nothing was changed")
        _check_order(path.name, component, str(old), new, allow_downgrade)
        images[component] = new
        buf = io.StringIO()
        y.dump(doc, buf)
        try:  # the bumped file must still be a valid site config
            validate(*merge(YAML(typ="safe").load(buf.getvalue()), project, path.name))
        except (StackFileError, ConfigError) as e:
            raise BumpError(f"{path.name} would not be valid after the bump, nothing was changed: {e}") from None
        changes.append(Change(stack, path, str(old), new, buf.getvalue()))
    return changes


def _check_order(where: str, component: str, old: str, new: str, allow_downgrade: bool) -> None:
    """Refuse a downgrade, or a change that cannot be ordered, unless it is asked for."""
    before, after = imageref.version_of(old), imageref.version_of(new)
    order = imageref.compare_versions(before, after)
    if order == 1 or allow_downgrade:
        return
    what = (f"{before} -> {after} is a downgrade" if order == -1
            else f"cannot tell whether {after} is newer than {before}")
    if component == "db":
        consequence = ("A database downgrade is not a rollback: the newer MySQL may have upgraded the data files "
                       "in place, and an older server can refuse to start on them or damage them. To go back, "
                       "restore the dump taken before the upgrade into the older version (README: Rollback). ")
    else:
        consequence = "To roll back an upgrade, revert its commit (README: Rollback). "
    raise BumpError(f"{where}: o3:images.{component} {what}. {consequence}"
                    "If this is intended, run again with --allow-downgrade. Nothing was changed.")


def _images(doc: Any, path: Path) -> Any:
    config = (doc or {}).get("config") if hasattr(doc, "get") else None
    if not hasattr(config, "get"):
        raise BumpError(f"{path.name} has no 'config' mapping")
    images = config.get("o3:images")
    if not hasattr(images, "get"):
        raise BumpError(f"{path.name} has no o3:images mapping")
    return images


def write(changes: list[Change]) -> None:
    for c in changes:
        fd, tmp = tempfile.mkstemp(dir=c.path.parent, prefix=f".{c.path.name}.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(c.text)
            os.chmod(tmp, c.path.stat().st_mode & 0o777)
            os.replace(tmp, c.path)
        except BaseException:
            os.unlink(tmp)
            raise


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.bump", description=__doc__.split("\n\n")[0])
    p.add_argument("--component", required=True, help="pacs, view or db")
    p.add_argument("--version", required=True, help="the new tag (or sha256:... digest)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--ring", choices=RINGS, help="every site of this ring")
    target.add_argument("--site", action="append", default=[], help="a site's stack name (repeatable)")
    add_dir_argument(p)
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    p.add_argument("--allow-downgrade", action="store_true",
                   help="allow a lower version, or one that cannot be ordered (e.g. a digest)")
    args = p.parse_args(argv)
    changes = plan(args.dir, args.component, args.version, args.ring, args.site, args.allow_downgrade)
    if not changes:
        print(f"bump: every targeted site already runs {args.component} {args.version}; nothing to do")
        return 0
    if not args.dry_run:
        write(changes)
    for c in changes:
        print(f"{'would bump' if args.dry_run else 'bumped'} {c.path.name}: {c.old} -> {c.new}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "bump", argv)


if __name__ == "__main__":
    sys.exit(main())
