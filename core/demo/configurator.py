"""Demo data of the guided configurator: three product families over the demo catalogue (a
computer vendor's server room, a telephone company's office connectivity, an appliance
maker's hotel rooms), read from configurator.json, the same document `sfa configurator load`
takes."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session

from core.config_families import load_families
from core.demo.world import DemoWorld

DATA = Path(__file__).resolve().parent / "configurator.json"


def seed(session: Session, world: DemoWorld) -> None:
    """Load the demo families and the attributes of their products."""
    load_families(session, json.loads(DATA.read_text(encoding="utf-8")), world.now)
