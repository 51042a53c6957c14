"""One conversation played on every door (terminal, Telegram, Slack): questions asked in the
middle of flows are answered with the flow kept, a [Continue] button goes back, a message the
bot is not sure about gets one clarifying question, replies follow the message's language.

Each step: ("say", text) or ("press", label), then the texts its answer must contain. The
customer and contacts are the demo's fixed ones (every seed has them): PT Sinar Jaya Abadi
(Jakarta) with Hendro Wibisono; budi covers Jakarta.
"""

from __future__ import annotations

STEPS: list[tuple[str, str, tuple[str, ...]]] = [
    # A document search is open; a visit is asked for: the visit starts, the search waits.
    ("say", "/kb pricing", ('found for "pricing"',)),
    ("say", "log visit Hendro Wibisono",
     ("How did the visit with Hendro Wibisono (PT Sinar Jaya Abadi) go?",)),
    # A question in the middle of the visit: answered, the visit kept, one line back to it.
    ("say", "phone of Hendro Wibisono?",
     ("Purchasing Manager",
      "Still logging the visit with Hendro Wibisono (PT Sinar Jaya Abadi).")),
    ("press", "Continue", ("How did the visit with Hendro Wibisono (PT Sinar Jaya Abadi) go?",)),
    ("press", "👍 Positive", ("Any notes?",)),
    # In a free-text step a plain sentence is the note, even with request words in it.
    ("say", "Wants a demo of the server next week, log it for the IT team",
     ("Next step: when should you follow up?",)),
    # A clear question in Indonesian: answered in Indonesian, the visit kept.
    ("say", "siapa yang menangani Sinar Jaya Abadi?",
     ("PT Sinar Jaya Abadi ditangani oleh",
      "Masih mencatat kunjungan dengan Hendro Wibisono (PT Sinar Jaya Abadi).")),
    ("press", "Lanjutkan", ("Next step: when should you follow up?",)),
    # The visit is saved, and the search it interrupted is offered again.
    ("press", "Tomorrow", ("Saved: visit with Hendro Wibisono", "Still searching the documents.")),
    # After a report, a question is a question (not "Done. Send /report ...").
    ("say", "/report won by rep this quarter", ("Won sales by rep, this quarter",)),
    ("say", "who handles Sinar Jaya Abadi?",
     ("PT Sinar Jaya Abadi is handled by", "Still building your report.")),
    # Not sure what is meant: one question with buttons, then the chosen request.
    ("say", "/cancel", ("Cancelled.",)),
    ("say", "Sinar Jaya Abadi tomorrow",
     ("I am not sure what you mean. Do you want:",)),
    ("press", "Log a visit to Sinar Jaya Abadi", ("Whom at PT Sinar Jaya Abadi?",)),
]


def script() -> str:
    """The steps as a terminal script (`sfa chat --script`)."""
    return "\n".join(arg if kind == "say" else f"[{arg}]" for kind, arg, _ in STEPS) + "\n"


def check(transcript: list[str]) -> None:
    """Each step's answer holds what the step expects."""
    assert len(transcript) == len(STEPS)
    for (kind, arg, wants), got in zip(STEPS, transcript, strict=True):
        for want in wants:
            assert want in got, f"{kind} {arg!r}: {want!r} not in:\n{got}"
