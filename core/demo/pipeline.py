"""Demo data of this area: deals in every stage, stage history, lead rules."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.demo import DemoWorld


def seed(session: Session, world: DemoWorld) -> None:
    """Add this area's demo records on top of the base world (filled in by the area)."""
