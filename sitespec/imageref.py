"""Docker image references: parsing shared by the config, the policy pack and the bump tooling.

Standard library only (the policy pack imports it in its own virtualenv).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# name[:tag][@digest], the grammar of distribution/reference (simplified).
IMAGE_REF = re.compile(
    r"^(?P<name>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    name: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def repository(self) -> str:
        """Last path component, e.g. 'mysql' or 'pacs-cloud'."""
        return self.name.rsplit("/", 1)[-1]


def parse(ref: str) -> Optional[ImageRef]:
    """The parts of a reference, or None when it is not one (e.g. still holds `{X.Y.Z}`)."""
    m = IMAGE_REF.match(ref)
    return ImageRef(m.group("name"), m.group("tag"), m.group("digest")) if m else None


def version_of(ref: str) -> str:
    """The tag (or the digest's start) a reference pins, e.g. '2.8.1'; 'unknown' when unparsable."""
    parsed = parse(ref)
    return (parsed.tag or (parsed.digest or "")[:19]) if parsed else "unknown"


def has_placeholder(ref: str) -> bool:
    return "{" in ref or "}" in ref


def pin_problem(ref: str) -> Optional[str]:
    """Why `ref` is not pinned to one version, or None when it is."""
    if has_placeholder(ref):
        return f"'{ref}' still holds the guide's {{X.Y.Z}} placeholder"
    parsed = parse(ref)
    if parsed is None:
        return f"'{ref}' is not a valid image reference"
    if parsed.digest:
        return None
    if parsed.tag is None:
        return f"'{ref}' has no tag, so Docker pulls whatever 'latest' is that day"
    if parsed.tag == "latest":
        return f"'{ref}' uses the moving 'latest' tag"
    return None


# The vendor supports MySQL 8.0 (highly recommended) and 5.7; anything else is refused.
SUPPORTED_MYSQL = ("8.0", "5.7")


def mysql_version(ref: str) -> Optional[str]:
    """'8.0' / '5.7' / other major.minor of an official-looking mysql image, else None."""
    parsed = parse(ref)
    if parsed is None or parsed.repository != "mysql" or not parsed.tag:
        return None
    parts = parsed.tag.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else parsed.tag


def mysql_problem(ref: str) -> Optional[str]:
    """Why `ref` is not a MySQL the vendor supports, or None when it is."""
    if mysql_version(ref) in SUPPORTED_MYSQL:
        return None
    return f"database image '{ref}' is not MySQL 8.0 (the vendor supports MySQL 8.0, and 5.7)"


_NUMBERS = re.compile(r"\d+")


def compare_versions(old: str, new: str) -> Optional[int]:
    """-1, 0 or 1 as `new` is older than, the same as or newer than `old`; None when the two
    tags cannot be ordered (e.g. a digest, or the same numbers with different words)."""
    if old == new:
        return 0
    if old.startswith("sha256:") or new.startswith("sha256:"):
        return None
    a, b = [tuple(int(n) for n in _NUMBERS.findall(v)) for v in (old, new)]
    if not a or not b or a == b:
        return None
    return 1 if b > a else -1
