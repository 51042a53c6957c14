"""The shared services a step may use (`ctx.services`), built once by the composition root
(bot/app.py): typed fields, no bag of strings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.settings import Settings
from core.stamped_cache import StampedCache

if TYPE_CHECKING:
    from bot.conversations.understanding.understander import Understander
    from core.contact_index import ContactIndex
    from core.knowledge_search import KnowledgeSearch


@dataclass
class Services:
    """Shared services the steps may use (built once by the composition root)."""

    settings: Settings
    knowledge: KnowledgeSearch | None = None  # this node's knowledge index and its sync mark
    # The contact lookup index of the database served (one per database: passed to
    # core.contacts and core.customers, never looked up)
    contacts: ContactIndex = field(default_factory=lambda: _contact_index())
    understanding: Understander | None = None  # intents and slots (built from the registry)
    # The configurator's compiled families and price tables of the database served, kept
    # while unchanged (core.config_families.load_model, core.configurator.build)
    configurator: StampedCache = field(default_factory=StampedCache)


def _contact_index() -> ContactIndex:
    from core.contact_index import ContactIndex

    return ContactIndex()
