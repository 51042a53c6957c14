"""Logging set-up: secrets redacted from every line, optional JSON lines, quiet HTTP clients."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterable

_TOKEN_IN_URL = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")


class RedactSecrets(logging.Filter):
    """Replace configured secrets (and anything shaped like a bot token in a URL) by ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _TOKEN_IN_URL.sub("/bot***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
        return True


_SECRETS: set[str] = set()
_factory_installed = False


def redact_everywhere(secrets: Iterable[str]) -> None:
    """Redact these secrets (and bot-token URLs) from every log record of the process, at the
    moment the record is made: whatever logger, handler or capture sees it afterwards."""
    global _factory_installed
    _SECRETS.update(s for s in secrets if s and len(s) >= 6)
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()
    redactor = RedactSecrets(())

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)  # type: ignore[arg-type]
        redactor.secrets = list(_SECRETS)
        # A record whose arguments do not format is left for logging to report as usual.
        with contextlib.suppress(Exception):
            redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text or record.exc_info:
            payload["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once for the process."""
    secrets = list(secrets)
    redact_everywhere(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO, and Telegram URLs contain the bot token.
    for noisy in ("httpx", "httpcore", "telegram.ext", "apscheduler", "slack_bolt", "aiohttp",
                  "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# From the first import on, every record of the process is checked for bot-token URLs, so a
# library that logs its endpoint before any door registers its secrets is covered too.
redact_everywhere(())
