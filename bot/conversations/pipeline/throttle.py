"""Step 1, throttle: the per-user abuse limit (in this process)."""

from __future__ import annotations

import collections
import logging

from bot.conversations.messages import Incoming, Reply
from bot.i18n import Translator
from core.ports import Clock
from core.settings import Settings

log = logging.getLogger("bot.conversations.engine")


class Throttle:
    """At most `rate_limit_messages` per user in `rate_limit_window_seconds`: the first
    message over the limit is answered once, the next ones are dropped in silence."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._recent: dict[tuple[str, str], collections.deque[float]] = {}
        self._throttled: set[tuple[str, str]] = set()

    def __call__(self, inc: Incoming) -> list[Reply] | None:
        """None to go on, else what to answer."""
        limit = self.settings.rate_limit_messages
        if limit <= 0 or inc.platform == "console":  # the terminal is a trusted local door
            return None
        key = (inc.platform, inc.user_id)
        now = self.clock.now().timestamp()
        window = self.settings.rate_limit_window_seconds
        recent = self._recent.setdefault(key, collections.deque())
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) < limit:
            recent.append(now)
            self._throttled.discard(key)
            if len(self._recent) > 10_000:  # forget idle users
                for idle in [k for k, q in self._recent.items() if not q][:5_000]:
                    del self._recent[idle]
            return None
        if key in self._throttled:
            log.info("dropped an update over the rate limit (platform=%s)", inc.platform)
            return []
        self._throttled.add(key)
        t = Translator(inc.language if inc.language in ("en", "id") else
                       self.settings.default_locale, self.settings.default_timezone)
        return [Reply(t("You are sending messages faster than I can follow. I will ignore "
                        "new messages for a few seconds; please slow down."))]
