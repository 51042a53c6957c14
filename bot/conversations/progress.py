"""What a slow step is busy making, told to the door while it works (neutral).

A step about to make something slow (a PDF, a chart) calls `working("document")`; a door
that can show it (Telegram's "uploading document…", "typing…") listens for the update it is
handling with `listening(callback)`. Nothing happens where no door listens (the terminal,
Slack, the scheduler). The callback must return at once: the step goes on right after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger(__name__)

TYPING = "typing"
DOCUMENT = "document"
IMAGE = "image"
_listener: ContextVar[Callable[[str], None] | None] = ContextVar("sfa_progress", default=None)


def working(kind: str) -> None:
    """Tell the door this update's reply is being made: TYPING, DOCUMENT or IMAGE."""
    listener = _listener.get()
    if listener is None:
        return
    try:
        listener(kind)
    except Exception as exc:  # showing progress never fails a step
        log.debug("progress listener failed: %s", exc.__class__.__name__)


@contextmanager
def listening(callback: Callable[[str], None]) -> Iterator[None]:
    """Within this block (one update's handling), `working` calls `callback`."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)
