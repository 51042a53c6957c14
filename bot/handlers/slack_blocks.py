"""Slack's text and Block Kit, both ways: message text to plain text and back (mrkdwn
escaped), the `/sfa` and DM command words, a `Reply` as blocks (a form's button carries its
form, packed), a form as a modal and a modal's state checked, and the neutral App Home view
(bot.conversations.home) as a Home tab. No I/O here."""

from __future__ import annotations

import base64
import collections
import json
import re
import zlib
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.conversations.home import HomeView
from bot.conversations.messages import Form, FormField, FormReply, Reply
from bot.i18n import N_, Translator

_MAX_SECTION = 2900  # Slack allows 3000 characters in a section's text
_MAX_BUTTON_VALUE = 2000
_BUILTIN_COMMANDS = frozenset({"start", "help", "cancel", "language"})
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_LINK_WITH_LABEL = re.compile(r"<([^<>|]+)\|([^<>]*)>")
_LINK = re.compile(r"<((?:mailto:|tel:|https?://)?[^<>|@#!][^<>|]*)>")
_DM_COMMAND = re.compile(r"(?i)^(help|cancel|start\s+[A-Za-z0-9]{4,16}|language\s+[a-z]{2})$")
FIELD_ERRORS = {
    "required": N_("This field is required."),
    "number": N_("Enter a number, e.g. 1500000."),
    "date": N_("Enter a date as YYYY-MM-DD."),
    "choice": N_("Choose one of the options."),
    "long": N_("Keep it under {limit} characters."),
}



# -- text in and out ---------------------------------------------------------------------------
def from_slack_text(text: str) -> str:
    """Slack message text to plain text: mentions removed, links unwrapped, entities decoded."""
    text = _MENTION.sub("", text or "")
    text = _LINK_WITH_LABEL.sub(lambda m: m.group(2), text)
    text = _LINK.sub(lambda m: m.group(1).removeprefix("mailto:").removeprefix("tel:"), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def escape(text: str) -> str:
    """Escape text for Slack mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def command_text(text: str, commands: set[str] | dict[str, str]) -> str:
    """`/sfa TEXT` as engine input: a known command word becomes `/word`, else plain text."""
    text = (text or "").strip()
    if not text:
        return "/help"
    if text.startswith("/"):
        return text
    word = text.split(None, 1)[0].lower()
    if word in _BUILTIN_COMMANDS or word in commands:
        return "/" + text
    return text


def dm_text(text: str, commands: set[str] | frozenset[str] | dict[str, str] = frozenset()) -> str:
    """A DM cannot start with "/" in Slack: `help`, `cancel`, `start CODE`, `language id`
    and a command's name typed alone (`report`, `whoami`) are the commands."""
    if _DM_COMMAND.match(text) or text.lower() in commands:
        return "/" + text.lower() if " " not in text else "/" + text
    return text


def _chunks(text: str, size: int) -> list[str]:
    out: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    out.append(text)
    return out


def render(reply: Reply, forms: dict[str, Form] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """A Reply as (fallback text, Block Kit blocks). A form's button opens a modal."""
    text = reply.text or (reply.attachment.caption if reply.attachment else "") or ""
    blocks: list[dict[str, Any]] = []
    if text:
        body = escape(text)
        for part in _chunks(body, _MAX_SECTION - 8):
            shown = f"```{part}```" if reply.preformatted else part
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": shown}})
    form = reply.form if isinstance(reply, FormReply) else None
    for r, row in enumerate(reply.buttons):
        elements = []
        for c, b in enumerate(row):
            element: dict[str, Any] = {
                "type": "button", "text": {"type": "plain_text", "text": b.label[:75] or "?"},
                "action_id": f"sfa_btn_{r}_{c}", "value": b.payload,
            }
            if form is not None and b.value == form.value and not b.action:
                element["action_id"] = f"sfa_form_{r}_{c}"
                packed = json.dumps({"p": b.payload, "f": form_to_json(form)},
                                    ensure_ascii=False, separators=(",", ":"))
                if len(packed) > _MAX_BUTTON_VALUE:  # a long form: compressed
                    packed = json.dumps({"p": b.payload, "f": squeeze_form(form)},
                                        separators=(",", ":"))
                if len(packed) <= _MAX_BUTTON_VALUE:
                    element["value"] = packed
                elif forms is not None:  # too big even so: this process keeps it
                    forms[b.payload] = form
                    element["value"] = json.dumps({"p": b.payload})
            elements.append(element)
        for k in range(0, len(elements), 5):  # at most 5 elements per actions block
            blocks.append({"type": "actions", "block_id": f"sfa_row_{r}_{k}",
                           "elements": elements[k:k + 5]})
    # The fallback is mrkdwn too (notifications): user text in it could ping <!channel>.
    return (escape(text) or " ")[:3000], blocks[:50]


def form_to_json(form: Form) -> dict[str, Any]:
    return {"t": form.title, "s": form.submit_label, "v": form.value,
            "f": [[f.name, f.label, f.kind, int(f.required), [list(o) for o in f.options],
                   f.hint, f.initial, f.max_length] for f in form.fields]}


def squeeze_form(form: Form) -> str:
    """A form packed small (zlib + base64) for a button value or a modal's metadata, so any
    worker can open and check it without this process's memory."""
    raw = json.dumps(form_to_json(form), ensure_ascii=False, separators=(",", ":"))
    return "z" + base64.b64encode(zlib.compress(raw.encode(), 9)).decode()


def unpack_form(data: Any) -> Form:
    """A form from a button value or metadata: plain JSON, or squeezed."""
    if isinstance(data, str) and data.startswith("z"):
        inflate = zlib.decompressobj()
        raw = inflate.decompress(base64.b64decode(data[1:], validate=True), 200_000)
        if inflate.unconsumed_tail:  # more than any form of ours: refused, not inflated
            raise ValueError("form too large")
        data = json.loads(raw)
    if not isinstance(data, dict):
        raise TypeError("not a form")
    return form_from_json(data)


def form_from_json(data: dict[str, Any]) -> Form:
    fields = tuple(FormField(name=f[0], label=f[1], kind=f[2], required=bool(f[3]),
                             options=tuple((o[0], o[1]) for o in f[4]), hint=f[5],
                             initial=f[6], max_length=int(f[7])) for f in data["f"])
    return Form(title=data["t"], fields=fields, submit_label=data["s"], value=data["v"])


def modal_view(form: Form, metadata: dict[str, Any], t: Translator) -> dict[str, Any]:
    """A Slack modal for a form; each field is an input block named after the field."""
    blocks = []
    for f in form.fields:
        element: dict[str, Any]
        if f.kind == "choice":
            element = {"type": "static_select", "action_id": "v", "options": [
                {"text": {"type": "plain_text", "text": label[:75]}, "value": value}
                for value, label in f.options[:100]]}
            initial = [o for o in element["options"] if o["value"] == f.initial]
            if initial:
                element["initial_option"] = initial[0]
        elif f.kind == "date":
            element = {"type": "datepicker", "action_id": "v"}
            if f.initial:
                element["initial_date"] = f.initial
        else:
            element = {"type": "plain_text_input", "action_id": "v",
                       "multiline": f.kind == "long_text", "max_length": max(1, f.max_length)}
            if f.initial:
                element["initial_value"] = f.initial
        block: dict[str, Any] = {"type": "input", "block_id": f.name, "optional": not f.required,
                                 "label": {"type": "plain_text", "text": f.label[:2000]},
                                 "element": element}
        if f.hint:
            block["hint"] = {"type": "plain_text", "text": f.hint[:2000]}
        blocks.append(block)
    return {
        "type": "modal", "callback_id": "sfa_form",
        "title": {"type": "plain_text", "text": form.title[:24] or "SFA"},
        "submit": {"type": "plain_text", "text": form.submit_label[:24]},
        "close": {"type": "plain_text", "text": t("Cancel")[:24]},
        "private_metadata": json.dumps(metadata, separators=(",", ":"))[:3000],
        "blocks": blocks,
    }


def form_modal(body: dict[str, Any], action: dict[str, Any],
               forms: collections.OrderedDict[str, Form], t: Translator) -> dict[str, Any] | None:
    """The modal a form button opens (None: the form is no longer available). The form rides
    in the button's value (plain or squeezed) or, too big, in `forms` (this process's
    memory) under its payload; the modal's metadata carries it the same way."""
    channel = (body.get("channel") or {}).get("id") or ""
    try:
        packed = json.loads(action.get("value") or "{}")
        payload = packed["p"]
        form = unpack_form(packed["f"]) if "f" in packed else forms[payload]
    except (ValueError, KeyError, TypeError, IndexError, zlib.error):
        return None
    container = body.get("container") or {}
    metadata = {"p": payload, "c": channel, "ts": container.get("message_ts"),
                "l": (action.get("text") or {}).get("text") or ""}
    if "f" not in packed:
        metadata["k"] = payload  # the form is kept in memory under its payload
    else:
        metadata["f"] = packed["f"]
    view = modal_view(form, metadata, t)
    if len(view["private_metadata"]) >= 3000 and isinstance(metadata.get("f"), dict):
        metadata["f"] = squeeze_form(form)  # carried compressed
        view = modal_view(form, metadata, t)
    if len(view["private_metadata"]) >= 3000:  # too big to carry: keep it here
        forms[payload] = form
        while len(forms) > 5_000:
            forms.popitem(last=False)
        metadata.pop("f", None)
        metadata["k"] = payload
        view = modal_view(form, metadata, t)
    return view


def check_form(form: Form, state: dict[str, Any], t: Translator
               ) -> tuple[dict[str, str], dict[str, str]]:
    """Read a modal's state: (values, field errors by field name)."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        raw = (state.get(f.name) or {}).get("v") or {}
        if f.kind == "choice":
            value = ((raw.get("selected_option") or {}).get("value")) or ""
        elif f.kind == "date":
            value = raw.get("selected_date") or ""
        else:
            value = (raw.get("value") or "").strip()
        if not value:
            if f.required:
                errors[f.name] = t(FIELD_ERRORS["required"])
            continue
        if f.kind == "number":
            try:
                number = Decimal(value.replace(",", "").replace(" ", ""))
                if not number.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                errors[f.name] = t(FIELD_ERRORS["number"])
                continue
            value = str(number)  # "1,500,000" -> "1500000"
        elif f.kind == "date":
            try:
                date.fromisoformat(value)
            except ValueError:
                errors[f.name] = t(FIELD_ERRORS["date"])
                continue
        elif f.kind == "choice" and value not in {v for v, _label in f.options}:
            errors[f.name] = t(FIELD_ERRORS["choice"])
            continue
        elif len(value) > f.max_length:
            errors[f.name] = t(FIELD_ERRORS["long"], limit=f.max_length)
            continue
        values[f.name] = value
    return values, errors


# -- the App Home tab -------------------------------------------------------------------------
def home_blocks(view: HomeView) -> dict[str, Any]:
    """The Home tab of a neutral home view: a header, when it was made, then its sections
    (a manager's waiting requests with their buttons, as the chat renders them)."""
    if view.notice:
        return _home([_section(escape(view.notice))])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": view.title[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(view.updated)}]},
    ]
    request_ids = iter(view.request_ids)
    for section in view.sections:
        head = "*" + escape(section.heading) + "*"
        if section.note:
            head += " — " + escape(section.note)
        lines = [f"• {escape(line)}" for line in section.lines]
        if not lines and section.empty:
            lines = [escape(section.empty)]
        blocks.append(_section("\n".join([head, *lines])))
        for request in section.requests:
            request_id = next(request_ids, len(blocks))
            for block in render(request)[1]:
                if "block_id" in block:  # unique within the view
                    block["block_id"] = f"approval_{request_id}_{block['block_id']}"
                blocks.append(block)
    return _home(blocks)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_MAX_SECTION]}}


def _home(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks[:100]}
