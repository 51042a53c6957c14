"""Per-platform send pacing: how soon the next message to a chat may go out.

Telegram: about 30 messages/s overall, 1/s per chat, 20/min per group (negative chat ids);
Slack: about 1/s per channel. The pacer spaces messages evenly (no bursts) with a small
safety margin, and holds a chat (and briefly the platform) after a 429 for the time named.
The overall pace is shared: `share` is the number of processes sending for the same bot
(on PostgreSQL the schedulers count each other, see scheduler.roster), and each keeps to
1/share of the limit. A 429 is honoured like any other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformLimits:
    """Minimum spacing in seconds between two messages (0 = unlimited)."""

    overall: float = 0.0
    per_chat: float = 0.0
    per_group: float = 0.0


DEFAULT_LIMITS: dict[str, PlatformLimits] = {
    # 29.2/s overall and 1.02 s per chat: a little under the limits, so jitter stays legal.
    "telegram": PlatformLimits(overall=1 / 29.2, per_chat=1.02, per_group=3.05),
    "slack": PlatformLimits(overall=0.0, per_chat=1.02, per_group=1.02),
    "console": PlatformLimits(),
}


def is_group(platform: str, chat_id: str) -> bool:
    """Telegram groups have negative ids; Slack channels start with C or G (DMs with D)."""
    if platform == "telegram":
        return chat_id.startswith("-")
    if platform == "slack":
        return chat_id[:1] in ("C", "G")
    return False


class Pacer:
    """Reserves send slots per platform and per chat, in monotonic seconds."""

    def __init__(self, limits: dict[str, PlatformLimits] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.monotonic = monotonic
        self._platform_next: dict[str, float] = {}
        self._chat_next: dict[tuple[str, str], float] = {}
        self.share = 1  # processes sharing each platform's overall limit
        self._request_next: dict[str, float] = {}  # earliest next actual request

    def _limits(self, platform: str) -> PlatformLimits:
        return self.limits.get(platform, PlatformLimits())

    def ready_at(self, platform: str, chat_id: str) -> float:
        """The earliest monotonic time a message to this chat may be sent."""
        return max(self._platform_next.get(platform, 0.0),
                   self._chat_next.get((platform, chat_id), 0.0))

    def take(self, platform: str, chat_id: str, now: float | None = None) -> None:
        """Record a send now (call only when ready_at() <= now)."""
        now = self.monotonic() if now is None else now
        lim = self._limits(platform)
        if lim.overall:
            # Keep to the grid of slots when only a little late (the event loop's wake-up
            # jitter would otherwise add to every interval and cost ~5% of the rate);
            # after a pause, start a new grid from now.
            overall = lim.overall * max(self.share, 1)
            slot = self._platform_next.get(platform, 0.0)
            base = slot if 0 <= now - slot < overall else max(slot, now)
            self._platform_next[platform] = base + overall
        spacing = lim.per_group if is_group(platform, chat_id) else lim.per_chat
        if spacing:
            self._chat_next[(platform, chat_id)] = now + spacing
        if len(self._chat_next) > 50_000:  # forget chats that are long free again
            for key in [k for k, v in self._chat_next.items() if v < now][:25_000]:
                del self._chat_next[key]

    def sending(self, platform: str, chat_id: str, now: float | None = None) -> float:
        """The request for a slot taken earlier is about to go out (after the row's
        "sending" mark was committed, which takes a variable time): seconds to wait first,
        so that actual requests, not just reservations, keep the overall spacing; the
        chat's next message then waits its spacing from that moment."""
        now = self.monotonic() if now is None else now
        lim = self._limits(platform)
        start = now
        if lim.overall:
            start = max(now, self._request_next.get(platform, 0.0))
            self._request_next[platform] = start + lim.overall * max(self.share, 1)
        spacing = lim.per_group if is_group(platform, chat_id) else lim.per_chat
        if spacing:
            key = (platform, chat_id)
            self._chat_next[key] = max(self._chat_next.get(key, 0.0), start + spacing)
        return start - now

    def hold(self, platform: str, chat_id: str, seconds: float, now: float | None = None
             ) -> None:
        """A 429 said "retry after `seconds`": nothing more to that chat before then, and the
        platform pauses briefly (up to a second) so a global flood limit can recover."""
        now = self.monotonic() if now is None else now
        key = (platform, chat_id)
        self._chat_next[key] = max(self._chat_next.get(key, 0.0), now + seconds)
        self._platform_next[platform] = max(self._platform_next.get(platform, 0.0),
                                            now + min(seconds, 1.0))
