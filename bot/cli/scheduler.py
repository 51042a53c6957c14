"""`sfa` commands of the scheduler area."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    """Add this area's commands to `sfa` (filled in by the area)."""
