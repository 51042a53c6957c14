"""Understanding a message: intents declared as example utterances, slots found by the fuzzy
indexes, a small trained classifier (see DESIGN.md, "Understanding a message")."""

from bot.conversations.understanding.intents import SLOT_NAMES, Phrasings

__all__ = ["SLOT_NAMES", "Phrasings"]
