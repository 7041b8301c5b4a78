"""What every operator command shares: checked arguments and one way to fail.

A command never ends in a traceback: bad input is reported with the argument or key to fix
(exit 2), and an unexpected error is one line naming what went wrong (exit 3; set O3_DEBUG=1
to see the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, Optional, Sequence

from sitespec.config import ConfigError
from sitespec.stackfile import ROOT, StackFileError


class OpsError(Exception):
    """A problem the operator can fix; the message says how."""


def project_dir(value: str) -> Path:
    """--dir: a folder holding Pulumi.yaml and the Pulumi.<site>.yaml stack files."""
    path = Path(value).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"'{value}' is not a folder: give the project folder (it holds Pulumi.yaml)")
    if not (path / "Pulumi.yaml").is_file():
        raise argparse.ArgumentTypeError(
            f"'{value}' has no Pulumi.yaml: give the project folder that holds Pulumi.yaml and the Pulumi.<site>.yaml files")
    return path


def readable_file(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"'{value}' is not a file that exists")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"'{value}' cannot be read (permissions)")
    return path


def _int_at_least(low: int, what: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{value}' is not a whole number") from None
        if n < low:
            raise argparse.ArgumentTypeError(f"{what} must be at least {low} (got {n})")
        return n

    return parse


positive_int = _int_at_least(1, "the value")
non_negative_int = _int_at_least(0, "the value")


def add_dir_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", type=project_dir, default=ROOT,
                   help="project folder holding Pulumi.yaml and the stack files (default: this project)")


def run(main: Callable[[Optional[Sequence[str]]], int], prog: str, argv: Optional[Sequence[str]] = None) -> int:
    """Run a command's main; known problems become one message and exit 2, anything else exit 3."""
    try:
        return main(argv)
    except (OpsError, StackFileError, ConfigError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the whole point: no traceback for an operator
        if os.environ.get("O3_DEBUG") == "1":
            traceback.print_exc()
        print(f"{prog}: unexpected error: {type(e).__name__}: {e} (set O3_DEBUG=1 for the details)", file=sys.stderr)
        return 3
