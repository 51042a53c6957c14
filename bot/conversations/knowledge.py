"""Knowledge: /kb search (and "search ..."), open, more results, check out / check in,
history, "tell me when free", admin lock break, and uploads of new documents in chat."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy.orm import Session

from bot.conversations.flow import ALL_ROLES, Action, Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.messages import Attachment, Button, Incoming, Reply, button_rows
from bot.conversations.phrasings import knowledge as knowledge_phrasings
from bot.conversations.registry import Registry
from bot.i18n import N_, Translator
from core import document_checkout as checkout
from core import knowledge as kb
from core.customer_brief import record_read
from core.errors import Conflict, DomainError
from core.knowledge_search import KnowledgeSearch
from core.models import NoticeRow, Role, User
from core.models.knowledge import Document
from core.ports import SearchResult
from core.textextract import ExtractLimits, extract

PAGE_SIZE = 5
EXCERPT_CHARS = 700

TYPE_LABELS: dict[str, str] = {
    "policy": N_("Policy book"),
    "presentation": N_("Presentation"),
    "phone_list": N_("Phone list"),
    "proposal_template": N_("Proposal template"),
    "expense_form": N_("Expense form"),
    "rule": N_("Rule"),
    "sales_report": N_("Past sales report"),
    "other": N_("Other"),
}
STATUS_LABELS: dict[str, str] = {
    "draft": N_("draft"),
    "published": N_("published"),
    "archived": N_("archived"),
}
EVENT_LABELS: dict[str, str] = {
    "checkout": N_("checked out by {name}"),
    "release": N_("released by {name}"),
    "break": N_("lock broken by {name}"),
    "expired": N_("check-out of {name} expired"),
    "published": N_("published by {name}"),
    "draft": N_("returned to draft by {name}"),
    "archived": N_("archived by {name}"),
}

ERRORS = {
    "kb.not_found": N_("No such document, or you may not see it. Search with /kb WORDS."),
    "kb.unsupported": N_("I cannot read {name}. Send one of these file types: {types}."),
    "kb.unreadable": N_("I could not read any text from {name} ({reason}). Nothing was "
                        "saved; please send a readable .md, .txt, .pdf, .docx or .pptx file."),
    "kb.bad_type": N_("Unknown document type {value}. Use one of: {types}."),
    "kb.bad_status": N_("Unknown status {status}."),
    "kb.bad_title": N_("A document needs a title."),
    "kb.locked": N_("{title} is checked out by {holder}."),
    "kb.not_checked_out": N_("You have not checked out {title} (or your check-out expired). "
                             "Check it out first."),
    "kb.not_locked": N_("{title} is not checked out by anyone: you can check it out now."),
    "kb.own_lock": N_("You have checked out {title} yourself."),
    "kb.archived": N_("{title} is archived and cannot be edited."),
    "kb.forbidden": N_("Your role cannot do that with documents."),
    "kb.note_needed": N_("Please write a short note on what changed."),
    "kb.empty_text": N_("The new text is empty. Send a file or type the text."),
    "kb.no_version": N_("There is no version {version} of that document."),
    "kb.upload_gone": N_("That upload is no longer here. Please send the file again."),
    # Upload limits (core.textextract): one line naming the limit; nothing is saved.
    "kb.limit_size": N_("{name} is {size}; the limit is {limit}. Nothing was saved; send a "
                        "smaller file."),
    "kb.limit_unpacked": N_("{name} unpacks to {size}; the limit is {limit}. Nothing was "
                            "saved; send a smaller file, or save it as PDF."),
    "kb.limit_entries": N_("{name} is made of {count} parts; the limit is {max}. Nothing was "
                           "saved; send a simpler file."),
    "kb.limit_pages": N_("{name} has {count} pages; the limit is {max}. Nothing was saved; "
                         "split it into smaller files."),
    "kb.limit_chars": N_("{name} has more than {max} characters of text. Nothing was saved; "
                         "split it into smaller files."),
    "kb.limit_time": N_("Reading {name} took longer than {seconds} seconds, so I stopped. "
                        "Nothing was saved; send a smaller or simpler file."),
    "kb.limit_memory": N_("Reading {name} needed more than {limit} of memory, so I "
                          "stopped. Nothing was saved; send a smaller or simpler file."),
    "kb.limit_pixels": N_("{name} has {megapixels} megapixels; the limit is {max}. Send a "
                          "smaller picture."),
    "kb.not_image": N_("{name} is not a picture I can read. Send a JPEG or PNG photo."),
}


def type_label(t: Translator, doc_type: str) -> str:
    return t(TYPE_LABELS.get(doc_type, TYPE_LABELS["other"]))


def lock_ttl(ctx: Ctx) -> timedelta:
    hours = getattr(ctx.services.settings, "kb_lock_hours", None)
    return timedelta(hours=float(hours)) if hours else kb.DEFAULT_LOCK_TTL


def _index(ctx: Ctx) -> KnowledgeSearch | None:
    return ctx.services.knowledge


# -- search ------------------------------------------------------------------------------------
_OPEN_REF = re.compile(r"^#?(\d{1,9})$")


async def kb_start(ctx: Ctx, inc: Incoming) -> Step:
    query = (ctx.args.get("text") or "").strip()
    if not query:
        return goto("query", ctx.t("What should I look for? Type a few words, e.g. "
                                   "\"discount approval\" or \"type:policy travel\"."))
    ref = _OPEN_REF.match(query)
    if ref and query.startswith("#"):
        return done(open_reply(ctx, kb.get_document(ctx.session, ctx.user, int(ref.group(1)))))
    return await _search(ctx, query, 1)


async def kb_query(ctx: Ctx, inc: Incoming) -> Step:
    text = (inc.text or "").strip()
    if inc.file is not None:  # a file sent while searching: add it / check it in
        return await ctx.begin("kb_upload")
    if inc.button == "more":
        return await _search(ctx, ctx.data.get("query", ""), int(ctx.data.get("page", 1)) + 1)
    if inc.button == "suggest" and ctx.data.get("suggestion"):
        return await _search(ctx, ctx.data["suggestion"], 1)
    if not text:
        return goto("query", ctx.t("Type the words to look for, or /cancel."))
    ref = _OPEN_REF.match(text)
    if ref and text.startswith("#"):
        return done(open_reply(ctx, kb.get_document(ctx.session, ctx.user, int(ref.group(1)))))
    return await _search(ctx, text, 1)


async def _search(ctx: Ctx, query: str, page: int) -> Step:
    t = ctx.t
    index = _index(ctx)
    if index is None:
        return done(t("Document search is not available right now. Please try later."))
    result: SearchResult = index.search(ctx.session, ctx.user, query, page=page,
                                        page_size=PAGE_SIZE)
    ctx.data.update(query=query, page=page)
    ctx.data.pop("suggestion", None)
    suggestion = result.suggestions[0] if result.suggestions else None
    if not result.hits:
        if page > 1:
            return goto("query", t("No more results for \"{query}\". Type new words to "
                                   "search again.", query=query))
        lines = [t("Nothing found for \"{query}\".", query=query)]
        buttons: list[Button] = []
        if suggestion:
            ctx.data["suggestion"] = suggestion
            lines.append(t("Did you mean \"{suggestion}\"?", suggestion=suggestion))
            buttons.append(Button(t("Search \"{suggestion}\"", suggestion=suggestion),
                                  value="suggest"))
        lines.append(t("Type other words, or use type: and tag: filters, e.g. "
                       "type:policy travel."))
        return goto("query", ctx.reply("\n".join(lines), buttons))
    first = (page - 1) * PAGE_SIZE
    if result.total_exact:
        header = t.n("{count} document found for \"{query}\":",
                     "{count} documents found for \"{query}\":", result.total, query=query)
    else:
        header = t("More than {count} documents found for \"{query}\"; the best first:",
                   count=result.total, query=query)
    lines = [header]
    if result.partial:
        lines.append(t("No document has all of those words; these have some of them."))
    open_buttons: list[Button] = []
    for number, hit in enumerate(result.hits, first + 1):
        lines.append(f"{number}. {hit.title} — {type_label(t, hit.doc_type)} (#{hit.id})")
        if hit.snippet:
            lines.append(f"   {hit.snippet}")
        open_buttons.append(Button(t("Open {number}", number=number), action="kb.open",
                                   arg=str(hit.id)))
    extra: list[Button] = []
    if suggestion:
        ctx.data["suggestion"] = suggestion
        lines.append(t("Did you mean \"{suggestion}\"?", suggestion=suggestion))
        extra.append(Button(t("Search \"{suggestion}\"", suggestion=suggestion),
                            value="suggest"))
    if first + len(result.hits) < result.total:
        extra.append(Button(t("More results"), value="more"))
    rows = [*button_rows(open_buttons, 3), tuple(extra)]
    return goto("query", Reply(text="\n".join(lines), buttons=tuple(r for r in rows if r)))


# -- the document card -------------------------------------------------------------------------
def _name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return user.name if user else "—"


def card_buttons(ctx: Ctx, doc: Document) -> list[Button]:
    t = ctx.t
    now = ctx.now
    ref = str(doc.id)
    buttons: list[Button] = []
    if checkout.lock_is_live(doc, now):
        if doc.locked_by_id == ctx.user.id:
            buttons.append(Button(t("Check in"), action="kb.checkin", arg=ref))
            buttons.append(Button(t("Release"), action="kb.release", arg=ref))
        else:
            buttons.append(Button(t("Tell me when free"), action="kb.wait", arg=ref))
            if ctx.user.role == Role.ADMIN:
                buttons.append(Button(t("Break lock"), action="kb.break", arg=ref))
    elif doc.status != "archived":
        buttons.append(Button(t("Check out"), action="kb.checkout", arg=ref))
    buttons.append(Button(t("History"), action="kb.history", arg=ref))
    if doc.status == "draft" and kb.can_publish(ctx.user):
        buttons.append(Button(t("Publish"), action="kb.publish", arg=ref))
    return buttons


def lock_line(ctx: Ctx, doc: Document) -> str:
    if not checkout.lock_is_live(doc, ctx.now) or doc.locked_at is None:
        return ""
    assert doc.lock_expires_at is not None
    if doc.locked_by_id == ctx.user.id:
        return ctx.t("You have it checked out until {until}.",
                     until=ctx.t.datetime(doc.lock_expires_at))
    return ctx.t("Checked out by {holder} since {since}.",
                 holder=_name(ctx.session, doc.locked_by_id),
                 since=ctx.t.datetime(doc.locked_at))


def attachment_for(doc_title: str, filename: str | None, mime: str | None,
                   content: bytes | None, text: str) -> Attachment:
    name = filename or (re.sub(r"[^\w]+", "-", doc_title.lower()).strip("-") + ".md")
    return Attachment(filename=name, data=content if content is not None else text.encode(),
                      mime=mime or "text/markdown", caption=doc_title)


def open_reply(ctx: Ctx, doc: Document) -> Reply:
    t = ctx.t
    lines = [
        f"{doc.title} (#{doc.id})",
        t("{type}, {status}, version {version}, updated {when}.",
          type=type_label(t, doc.doc_type), status=t(STATUS_LABELS.get(doc.status, "")),
          version=doc.version, when=t.datetime(doc.updated_at)),
    ]
    if doc.tags:
        lines.append(t("Tags: {tags}", tags=", ".join(doc.tags)))
    locked = lock_line(ctx, doc)
    if locked:
        lines.append(locked)
    excerpt = doc.text.strip()
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    lines += ["", excerpt]
    return Reply(text="\n".join(lines), buttons=button_rows(card_buttons(ctx, doc), 3),
                 attachment=attachment_for(doc.title, doc.filename, doc.mime, doc.content,
                                           doc.text))


def _doc_id(arg: str) -> int:
    if not arg.isdigit():
        raise DomainError("kb.not_found", document_id=arg[:12])
    return int(arg)


async def act_open(ctx: Ctx, arg: str) -> Step:
    doc = kb.get_document(ctx.session, ctx.user, _doc_id(arg))
    record_read(ctx.session, ctx.user, doc, ctx.now)  # a customer brief says what changed since
    return done(open_reply(ctx, doc))


def locked_reply(ctx: Ctx, doc: Document) -> Reply:
    t = ctx.t
    text = t("{title} is checked out by {holder} since {since}. Only one person edits a "
             "document at a time.", title=doc.title,
             holder=_name(ctx.session, doc.locked_by_id),
             since=t.datetime(doc.locked_at) if doc.locked_at else "—")
    return Reply(text=text, buttons=button_rows(card_buttons(ctx, doc), 3))


async def act_checkout(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    try:
        doc = checkout.check_out(ctx.session, ctx.user, _doc_id(arg), now=ctx.now,
                                 ttl=lock_ttl(ctx))
    except Conflict as exc:
        if exc.code != "kb.locked":
            raise
        return done(locked_reply(ctx, kb.get_document(ctx.session, ctx.user, _doc_id(arg))))
    assert doc.lock_expires_at is not None
    return done(Reply(
        text=t("You have checked out {title} until {until}; nobody else can edit it "
               "meanwhile. When you are done, press Check in (or just send me the new file).",
               title=doc.title, until=t.datetime(doc.lock_expires_at)),
        buttons=button_rows(card_buttons(ctx, doc), 3),
        attachment=attachment_for(doc.title, doc.filename, doc.mime, doc.content, doc.text)))


async def act_release(ctx: Ctx, arg: str) -> Step:
    doc = checkout.release(ctx.session, ctx.user, _doc_id(arg), now=ctx.now)
    return done(ctx.t("Released {title} without changes; others can check it out now.",
                      title=doc.title))


async def act_wait(ctx: Ctx, arg: str) -> Step:
    doc = checkout.wait_for(ctx.session, ctx.user, _doc_id(arg), now=ctx.now)
    return done(ctx.t("OK, I will tell you when {title} is free.", title=doc.title))


async def act_break(ctx: Ctx, arg: str) -> Step:
    holder = checkout.break_lock(ctx.session, ctx.user, _doc_id(arg), now=ctx.now)
    doc = kb.get_document(ctx.session, ctx.user, _doc_id(arg))
    return done(ctx.t("Lock on {title} broken (it was held by {holder}); this is recorded in "
                      "its history and {holder} is told.", title=doc.title,
                      holder=holder.name if holder else "—"))


async def act_publish(ctx: Ctx, arg: str) -> Step:
    doc = kb.set_status(ctx.session, ctx.user, _doc_id(arg), "published", ctx.now)
    return done(ctx.t("{title} is published: everyone can find it now.", title=doc.title))


async def act_history(ctx: Ctx, arg: str) -> Step:
    t = ctx.t
    doc = kb.get_document(ctx.session, ctx.user, _doc_id(arg))
    lines = [t("History of {title}:", title=doc.title)]
    buttons: list[Button] = []
    for entry in kb.history(ctx.session, ctx.user, doc.id):
        when = t.datetime(entry.at)
        if entry.kind == "version":
            note = f": {entry.note}" if entry.note else ""
            lines.append(t("v{version} — {name}, {when}", version=entry.version,
                           name=entry.user_name, when=when) + note)
            buttons.append(Button(t("Get v{version}", version=entry.version),
                                  action="kb.version", arg=f"{doc.id}:{entry.version}"))
        elif entry.kind in EVENT_LABELS:
            name = entry.user_name
            lines.append(f"   · {when}: " + t(EVENT_LABELS[entry.kind], name=name))
    return done(Reply(text="\n".join(lines), buttons=button_rows(buttons[-6:], 3)))


async def act_version(ctx: Ctx, arg: str) -> Step:
    doc_part, _, version_part = arg.partition(":")
    if not version_part.isdigit():
        raise DomainError("kb.no_version", version=version_part[:6])
    row = kb.get_version(ctx.session, ctx.user, _doc_id(doc_part), int(version_part))
    return done(Reply(
        text=ctx.t("{title}, version {version} ({when}).", title=row.title, version=row.version,
                   when=ctx.t.datetime(row.created_at)),
        attachment=attachment_for(row.title, row.filename, row.mime, row.content, row.text)))


async def act_checkin(ctx: Ctx, arg: str) -> Step:
    return await ctx.begin("kb_checkin", doc=str(_doc_id(arg)))


# -- check-in ----------------------------------------------------------------------------------
def _held(ctx: Ctx, doc_id: int) -> Document:
    doc = kb.get_document(ctx.session, ctx.user, doc_id)
    if doc.locked_by_id != ctx.user.id or not checkout.lock_is_live(doc, ctx.now):
        if checkout.lock_is_live(doc, ctx.now):
            raise Conflict("kb.locked", title=doc.title,
                           holder=_name(ctx.session, doc.locked_by_id))
        raise Conflict("kb.not_checked_out", title=doc.title)
    return doc


async def checkin_start(ctx: Ctx, inc: Incoming) -> Step:
    doc = _held(ctx, _doc_id(ctx.args.get("doc", "")))
    ctx.data["doc"] = doc.id
    return goto("note", ctx.t("Checking in {title}. What changed? (a short note for the "
                              "history)", title=doc.title))


async def checkin_note(ctx: Ctx, inc: Incoming) -> Step:
    note = " ".join((inc.text or "").split())
    if inc.file is not None or not note:
        return goto("note", ctx.t("First a short note on what changed, as text (or /cancel)."))
    if len(note) > kb.MAX_NOTE:
        return goto("note", ctx.t("Please keep the note under {limit} characters.",
                                  limit=kb.MAX_NOTE))
    ctx.data["note"] = note
    if ctx.data.get("upload"):
        return _finish_upload_checkin(ctx)
    return goto("content", ctx.t("Now send the new file (.md, .txt, .pdf, .docx or .pptx), "
                                 "or type the new text."))


async def checkin_content(ctx: Ctx, inc: Incoming) -> Step:
    doc_id = int(ctx.data["doc"])
    note = ctx.data.get("note", "")
    if inc.file is not None:
        version = checkout.check_in(ctx.session, ctx.user, doc_id, now=ctx.now, note=note,
                              filename=inc.file.name, data=inc.file.data, mime=inc.file.mime)
    elif inc.text and inc.text.strip():
        version = checkout.check_in(ctx.session, ctx.user, doc_id, now=ctx.now, note=note,
                              text=inc.text)
    else:
        return goto("content", ctx.t("Send the new file, or type the new text (or /cancel)."))
    return done(_checked_in(ctx, version.title, version.version))


def _checked_in(ctx: Ctx, title: str, version: int) -> str:
    return ctx.t("Checked in {title} as version {version}. The lock is released and the "
                 "search index is updated.", title=title, version=version)


def _finish_upload_checkin(ctx: Ctx) -> Step:
    upload = kb.get_upload(ctx.session, ctx.user, int(ctx.data["upload"]))
    version = checkout.check_in(ctx.session, ctx.user, int(ctx.data["doc"]), now=ctx.now,
                          note=ctx.data.get("note", ""), filename=upload.filename,
                          data=upload.content, mime=upload.mime)
    ctx.session.delete(upload)
    return done(_checked_in(ctx, version.title, version.version))


# -- uploads -----------------------------------------------------------------------------------
async def upload_start(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    if inc.file is None:
        return done(t("Send me a file (.md, .txt, .pdf, .docx or .pptx) to add it to the "
                      "document library."))
    # Parsed in a child process under the upload limits (core.textextract), off the event
    # loop: a hostile file is refused with the limit it hit, other chats go on meanwhile.
    limits = ExtractLimits.from_settings(ctx.services.settings)
    extracted = await asyncio.to_thread(extract, inc.file.name, inc.file.data, inc.file.mime,
                                        limits)
    upload = kb.stage_upload(ctx.session, ctx.user, filename=inc.file.name, mime=inc.file.mime,
                             data=inc.file.data, now=ctx.now, extracted=extracted)
    ctx.data["upload"] = upload.id
    held = checkout.locks_held(ctx.session, ctx.user, ctx.now)
    if held:
        buttons = [Button(t("New version of {title}", title=d.title[:40]), value=f"v{d.id}")
                   for d in held[:6]]
        buttons.append(Button(t("New document"), value="new"))
        return goto("target", ctx.reply(
            t("Got {name}. Is it a new version of a document you have checked out?",
              name=upload.filename), *button_rows(buttons, 1)))
    return _ask_type(ctx, upload.filename)


def _ask_type(ctx: Ctx, filename: str) -> Step:
    t = ctx.t
    guess = kb.guess_type(filename)
    ctx.data["guess"] = guess
    buttons = [Button(t(label), value=key) for key, label in TYPE_LABELS.items()]
    return goto("type", ctx.reply(
        t("Got {name}. What kind of document is it? (my guess: {guess})", name=filename,
          guess=type_label(t, guess)), *button_rows(buttons, 2)))


async def upload_target(ctx: Ctx, inc: Incoming) -> Step:
    choice = inc.button or ""
    if choice == "new":
        upload = kb.get_upload(ctx.session, ctx.user, int(ctx.data["upload"]))
        return _ask_type(ctx, upload.filename)
    if choice.startswith("v") and choice[1:].isdigit():
        doc = _held(ctx, int(choice[1:]))
        ctx.data["doc"] = doc.id
        return Step("note", [Reply(ctx.t("New version of {title}. What changed? (a short "
                                         "note for the history)", title=doc.title))],
                    flow="kb_checkin")
    return goto("target", ctx.t("Please press one of the buttons (or /cancel)."))


async def upload_type(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    raw = inc.button or (inc.text or "")
    if not raw.strip():
        return goto("type", t("Please choose the type with a button (or /cancel)."))
    doc_type = raw if raw in kb.DOC_TYPES else kb.normalise_type(raw)
    ctx.data["doc_type"] = doc_type
    if kb.can_publish(ctx.user):
        return goto("publish", ctx.reply(
            t("Publish it now for everyone, or keep it as a draft?"),
            [Button(t("Publish now"), value="publish"), Button(t("Keep as draft"),
                                                               value="draft")]))
    return _create(ctx, publish=False)


async def upload_publish(ctx: Ctx, inc: Incoming) -> Step:
    choice = inc.button or (inc.text or "").strip().lower()
    if choice not in ("publish", "draft"):
        return goto("publish", ctx.t("Please press Publish now or Keep as draft."))
    return _create(ctx, publish=choice == "publish")


def _create(ctx: Ctx, *, publish: bool) -> Step:
    t = ctx.t
    doc = kb.add_from_upload(ctx.session, ctx.user, int(ctx.data["upload"]),
                             doc_type=ctx.data["doc_type"], now=ctx.now, publish=publish)
    if doc.status == "published":
        text = t("Added {title} (#{id}) to the library; everyone can find it now.",
                 title=doc.title, id=doc.id)
    else:
        text = t("Added {title} (#{id}) as a draft: you and the admins can see it until a "
                 "manager publishes it.", title=doc.title, id=doc.id)
    return done(Reply(text=text, buttons=button_rows(card_buttons(ctx, doc), 3)))


# -- pushed notices ----------------------------------------------------------------------------
def _notice_doc(session: Session, row: NoticeRow) -> Document | None:
    doc_id = (row.params or {}).get("document_id")
    return session.get(Document, int(doc_id)) if doc_id is not None else None


def render_free(session: Session, row: NoticeRow, user: User | None, t: Translator
                ) -> Reply | None:
    doc = _notice_doc(session, row)
    if doc is None or user is None or not kb.can_see(user, doc):
        return None
    if doc.locked_by_id is not None and doc.locked_by_id != user.id and (
            doc.lock_expires_at is None or doc.lock_expires_at > row.due_at):
        return None  # someone took it again meanwhile
    return Reply(text=t("{title} is free now: you can check it out.", title=doc.title),
                 buttons=((Button(t("Check out"), action="kb.checkout", arg=str(doc.id)),),))


def render_review(session: Session, row: NoticeRow, user: User | None, t: Translator
                  ) -> Reply | None:
    doc = _notice_doc(session, row)
    if doc is None or user is None or doc.status != "draft":
        return None
    return Reply(text=t("{by} added the draft {title} to the library. Open it to check and "
                        "publish it.", by=(row.params or {}).get("by", "—"), title=doc.title),
                 buttons=((Button(t("Open"), action="kb.open", arg=str(doc.id)),),))


def render_expired(session: Session, row: NoticeRow, user: User | None, t: Translator
                   ) -> Reply | None:
    doc = _notice_doc(session, row)
    if doc is None or user is None:
        return None
    return Reply(text=t("Your check-out of {title} expired, so others may edit it now. Check "
                        "it out again if you still need it.", title=doc.title),
                 buttons=((Button(t("Check out"), action="kb.checkout", arg=str(doc.id)),),))


def render_broken(session: Session, row: NoticeRow, user: User | None, t: Translator
                  ) -> Reply | None:
    doc = _notice_doc(session, row)
    if doc is None or user is None:
        return None
    return Reply(text=t("{by} (admin) took back your check-out of {title}. Your changes were "
                        "not checked in.", by=(row.params or {}).get("by", "—"),
                        title=doc.title))


def register(registry: Registry) -> None:
    """Register the knowledge flows, intents, actions and notices."""
    registry.add_errors(ERRORS)
    registry.add_phrasings(*knowledge_phrasings.PHRASINGS)
    registry.add_flow(Flow(
        "kb", start=kb_start, states={"query": kb_query}, accepts={"query": "any"},
        roles=ALL_ROLES,
        commands=("kb",), help=N_("Search the document library: /kb WORDS"),
        ongoing=ongoing(N_("Still searching the documents."))))
    registry.add_flow(Flow(
        "kb_checkin", start=checkin_start,
        states={"note": checkin_note, "content": checkin_content},
        accepts={"note": "text", "content": "text"}, roles=ALL_ROLES,
        ongoing=ongoing(N_("Still checking in your document."))))
    registry.add_flow(Flow(
        "kb_upload", start=upload_start,
        states={"target": upload_target, "type": upload_type, "publish": upload_publish},
        accepts={"target": "button", "type": "button", "publish": "button"},
        roles=ALL_ROLES, commands=("upload",),
        help=N_("Add a document to the library (send the file)"),
        ongoing=ongoing(N_("Still adding your document to the library."))))
    registry.file_flow = "kb_upload"
    for name, handler in (("kb.open", act_open), ("kb.checkout", act_checkout),
                          ("kb.checkin", act_checkin), ("kb.release", act_release),
                          ("kb.wait", act_wait), ("kb.break", act_break),
                          ("kb.history", act_history), ("kb.version", act_version),
                          ("kb.publish", act_publish)):
        registry.add_action(Action(name, handler, roles=ALL_ROLES, group_ok=False))
    registry.add_notice("kb.free", render_free)
    registry.add_notice("kb.lock_expired", render_expired)
    registry.add_notice("kb.lock_broken", render_broken)
    registry.add_notice("kb.review", render_review)

