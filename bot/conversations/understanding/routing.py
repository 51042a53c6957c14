"""What the engine does with an understood message: interrupt an open flow or answer it,
suspend and restore a flow, ask one clarifying question, say what was not understood."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process

from bot.conversations.flow import Flow
from bot.conversations.messages import Button, Reply, pack_replies, unpack_replies
from bot.conversations.pipeline.update import State
from bot.conversations.understanding.slots import CUSTOMER_KINDS
from bot.conversations.understanding.text import fold
from bot.conversations.understanding.understander import Understander, Understanding
from bot.i18n import Translator
from core.models import Role, User

if TYPE_CHECKING:
    from bot.conversations.registry import Registry

CLARIFY_FLOW = "clarify"
RESUME_ACTION = "resume"
SUSPENDED = "_suspended"  # state data: the flow a longer question interrupted
PROMPT = "_prompt"  # state data: the open step's last question (to show it again)
PREVIOUS = "_previous"  # state data: the buttons of the same question asked before
LABELS = "_labels"  # state data: the open step's button labels (typed answers)
ALL_SLOT_KINDS = ("company", "contact", "product", "department", "region", "date", "amount",
                  "number", "reference")
CLEAR_QUESTION = 0.6  # confidence from which a question interrupts a free-text step
SURE = 0.85  # ... and from which a request that names no customer does
# When a customer is named but what about is unclear, these are offered.
CUSTOMER_DEFAULTS = ("find", "ask_handles", "log_visit")
_MAX_PROMPT_BYTES = 6_000


def interrupts(u: Understanding, accepts: str, data: dict[str, Any], flow_name: str,
               understander: Understander) -> bool:
    """True when `u`, typed while `flow_name` waits for an answer of kind `accepts`, asks
    for something else and should be handled as itself (the flow is kept)."""
    if u.intent is None or u.intent == "find":
        return False  # a name typed alone answers "which customer?"
    phrasing = understander.phrasings[u.intent]
    if not phrasing.mid_flow or phrasing.flow == flow_name or len(u.tokens) < 2:
        return False
    if u.covered_by(*ALL_SLOT_KINDS):
        return False  # only a name, a date or a number: an answer, not a request
    if accepts == "text":  # notes, descriptions: only a clear question interrupts
        return u.is_question and u.confidence >= CLEAR_QUESTION
    if accepts == "button":
        return _plain(u.text) not in (data.get(LABELS) or [])
    if accepts == "customer" and u.customer is None and u.confidence < SURE:
        return False  # "which customer?" answered with a name we do not know
    wants_customer = bool(set(phrasing.slots) & CUSTOMER_KINDS)
    if (wants_customer and u.customer is None and u.slot("reference") is None
            and u.confidence < SURE):
        return False  # "who handles <something unknown>": likely an answer, not a request
    if accepts in ("date", "number", "amount") and u.slot(accepts) is not None:
        return False
    return u.confidence >= CLEAR_QUESTION


def restarts(u: Understanding, accepts: str, flow_name: str, understander: Understander
             ) -> bool:
    """True when `u`, typed while `flow_name` waits for a tap, a date or a customer, asks
    clearly for that same flow again ("log visit Hendro" while an earlier visit's next step
    is still open): the rep starts over, and the half-done one is dropped. A step that waits
    for free text (notes) keeps what is typed as its answer."""
    if u.intent is None or accepts in ("text", "any") or len(u.tokens) < 2:
        return False
    phrasing = understander.phrasings[u.intent]
    if phrasing.flow != flow_name or not phrasing.mid_flow or u.confidence < SURE:
        return False
    return not u.covered_by(*ALL_SLOT_KINDS)


_PLAIN_WORD = re.compile(r"[^\W_]+")
_TYPO_SCORE = 85  # rapidfuzz ratio from which a typed answer is a label with a typo


def _plain(label: str) -> str:
    """A label as it is typed: folded, its emoji and punctuation left out."""
    return " ".join(_PLAIN_WORD.findall(fold(label)))


def typed_choice(text: str, data: dict[str, Any]) -> str | None:
    """The value of the open step's button whose label is what was typed ("no next step",
    "Positive" for "👍 Positive"), when exactly one label matches; None otherwise."""
    labels = data.get(LABELS)
    if not labels:
        return None
    typed = _plain(text)
    offered = data.get("_offered") or []
    labels = labels[:len(offered)]
    hits = [offered[i] for i, label in enumerate(labels) if label == typed]
    if not hits and len(typed) >= 4:  # a typo ("positve"): the one label close enough
        found = process.extract(typed, labels, scorer=fuzz.ratio, score_cutoff=_TYPO_SCORE,
                                limit=2)
        if len(found) == 1:
            hits = [offered[found[0][2]]]
    return hits[0] if len(set(hits)) == 1 else None


def asks_instead(u: Understanding, accepts: str, data: dict[str, Any]) -> bool:
    """True when text typed at a step that waits for a tap is no answer but might be a
    request: worth one clarifying question rather than "please tap a button"."""
    if accepts != "button" or u.intent is not None or not u.choices:
        return False
    typed = _plain(u.text)
    return typed not in (data.get(LABELS) or []) and not typed.isdigit()


def labels_of(replies: list[Reply]) -> list[str]:
    """The labels of the flow buttons offered as they are typed (typed answers match them:
    folded, without emoji and punctuation)."""
    return [_plain(b.label) for r in replies for row in r.buttons for b in row
            if not b.action][:30]


def pack_prompt(replies: list[Reply]) -> str | None:
    """The open step's question, kept to show it again ([Continue]); files are left out."""
    asked = [Reply(r.text, r.buttons, None, r.ephemeral, r.preformatted) for r in replies
             if r.text or r.buttons][-2:]
    if not asked:
        return None
    packed = pack_replies(asked)
    if len(packed) > _MAX_PROMPT_BYTES:
        return None
    return base64.b64encode(packed).decode()


def unpack_prompt(data: dict[str, Any]) -> list[Reply]:
    raw = data.get(PROMPT)
    if not raw:
        return []
    try:
        return unpack_replies(base64.b64decode(raw))
    except (ValueError, TypeError):
        return []


def suspend(state: State) -> dict[str, Any]:
    """The open flow, as it is, to put back after the interruption."""
    data = dict(state.data or {})
    inner = data.get(SUSPENDED)
    if isinstance(inner, dict) and isinstance(inner.get("data"), dict):
        # Keep one level below (a flow that had itself interrupted another); deeper goes.
        data[SUSPENDED] = {**inner, "data": {k: v for k, v in inner["data"].items()
                                             if k != SUSPENDED}}
    return {"flow": state.flow, "state": state.state, "token": state.token, "data": data}


def restore(state: State, saved: dict[str, Any], expires_at: datetime) -> None:
    """Put a suspended flow back. Tokens only grow (an old button can never match a later
    flow), so the flow gets a new one; the buttons it showed before stay valid (PREVIOUS) and
    its question, shown again by [Continue], carries the new token."""
    old = int(saved["token"] or 0)
    state.token = max(old, int(state.token or 0)) + 1
    data = dict(saved["data"])
    prompt = unpack_prompt(data)
    if prompt:
        data[PROMPT] = pack_prompt([_restamp(r, saved["flow"], old, state.token)
                                    for r in prompt])
    if data.get("_offered"):
        data[PREVIOUS] = {"token": old, "offered": list(data["_offered"])}
    state.flow = saved["flow"]
    state.state = saved["state"]
    state.data = data
    state.expires_at = expires_at


def _restamp(reply: Reply, flow: str, old: int, new: int) -> Reply:
    old_mark, new_mark = f"f|{flow}|{old:x}|", f"f|{flow}|{new:x}|"
    rows = tuple(tuple(Button(b.label, b.value, b.action, b.arg,
                              b.payload.replace(old_mark, new_mark, 1)) for b in row)
                 for row in reply.buttons)
    return Reply(reply.text, rows, reply.attachment, reply.ephemeral, reply.preformatted)


def resume_reply(t: Translator, flow: Flow | None, saved: dict[str, Any]) -> Reply:
    """One line and a [Continue] button back to the interrupted flow."""
    data = saved.get("data") or {}
    if flow is not None and flow.ongoing is not None:
        line = flow.ongoing(t, data)
    elif flow is not None and flow.help:
        line = t("We were in the middle of: {what}.", what=t(flow.help))
    else:
        line = t("We were in the middle of something else.")
    return Reply(line, ((Button(t("Continue"), action=RESUME_ACTION, arg="0"),),))


# -- asking instead of guessing ---------------------------------------------------------------
def choices_for(u: Understanding, understander: Understander, registry: Registry,
                user: User) -> list[tuple[str, dict[str, str]]]:
    """The intents worth offering for a message the bot is not sure about (at most 3)."""
    role = Role(user.role)

    def allowed(name: str) -> bool:
        phrasing = understander.phrasings.get(name)
        flow = registry.flows.get(phrasing.flow) if phrasing else None
        return flow is not None and role in flow.roles and bool(phrasing and phrasing.label)

    names = [n for n in u.choices if allowed(n)]
    if len(names) < 2 and u.customer is not None:
        names += [n for n in CUSTOMER_DEFAULTS if n not in names and allowed(n)]
    return [(n, understander.args_for(u, n)) for n in names[:3]]


def encode_choices(choices: list[tuple[str, dict[str, str]]]) -> str:
    return json.dumps([[name, args] for name, args in choices], ensure_ascii=False)


def decode_choices(raw: str) -> list[tuple[str, dict[str, str]]]:
    try:
        return [(str(n), {str(k): str(v) for k, v in a.items()}) for n, a in json.loads(raw)]
    except (ValueError, TypeError, AttributeError):
        return []


def choice_label(t: Translator, understander: Understander, name: str,
                 args: dict[str, str]) -> str:
    """A button label that says what the choice would do ("Who handles Maju Bersama")."""
    phrasing = understander.phrasings[name]
    customer = args.get("company") or args.get("contact") or args.get("text") or ""
    label = t(phrasing.label, customer=customer or t("the customer"),
              product=args.get("product") or t("the product"),
              region=args.get("region") or t("the region"))
    return label[:60]


def miss_reply(t: Translator, u: Understanding, understander: Understander) -> Reply:
    """Say what was understood and what was not (never the whole sentence as a name)."""
    known = [s for s in u.slots if s.kind in ("product", "region", "department", "date")]
    unknown = understander.unknown_words(u)
    if known and unknown:
        return Reply(t("I understood {known}, but not \"{unknown}\". Say what you want to do, "
                       "e.g. \"deals in Jakarta\" or \"who got the brochure for Server X1?\", "
                       "or send /help.", known=", ".join(s.text for s in known),
                       unknown=unknown[:60]))
    if known:
        return Reply(t("I understood {known}, but not what you want to do with it. Send /help "
                       "to see what I can do.", known=", ".join(s.text for s in known)))
    if unknown:
        return Reply(t("I did not understand \"{unknown}\". Ask me e.g. \"who handles Sinar "
                       "Jaya?\", \"my deals\" or \"log visit Hendro\", or send /help.",
                       unknown=unknown[:60]))
    return Reply(t("I did not understand that. Send /help to see what I can do."))
