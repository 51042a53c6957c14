"""Approvals: the approver's Approve / Reject buttons (a reason on reject) and the notices
"approval.requested" (to the approver) and "approval.decided" (to the requester), for
contract approvals (deals above the team threshold) and discount approvals (quotes)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from bot.conversations.flow import Action, Ctx, Flow, Step, done, goto
from bot.conversations.messages import Button, Incoming, Reply
from bot.conversations.registry import Registry
from bot.conversations.understanding.intents import Phrasings
from bot.i18n import N_, Translator
from core import approval_outcomes, approvals
from core.models import ApprovalRequest, Deal, NoticeRow, Role, User

APPROVERS = frozenset({Role.MANAGER, Role.ADMIN})

# The words of core.approvals' error codes (approval.not_found, .not_approver,
# .already_decided) are registered once, by bot.conversations.quote.


def _money(t: Translator, value: object, currency: str = "IDR") -> str:
    try:
        return t.money(Decimal(str(value)), currency)
    except (InvalidOperation, ValueError):
        return str(value)


def describe(session: Session, t: Translator, request: ApprovalRequest) -> list[str]:
    """What is asked, in words, for either kind."""
    details = request.details or {}
    asker = session.get(User, request.requested_by_id)
    lines: list[str] = []
    if request.kind == "contract":
        deal = session.get(Deal, request.ref_id)
        title = deal.title if deal else details.get("deal_title", "-")
        currency = details.get("currency", "IDR")
        lines.append(t("Contract approval for {title}", title=title))
        lines.append(t("Amount {amount} (threshold {threshold})",
                       amount=_money(t, request.amount or 0, currency),
                       threshold=_money(t, details.get("threshold", "0"), currency)))
    elif request.kind == "discount":
        lines.append(t("Discount approval: {pct}% on quote {number}",
                       pct=details.get("discount_pct", "?"),
                       number=details.get("quote_number", request.ref_id)))
        if details.get("customer"):
            lines.append(t("Customer: {name}", name=details["customer"]))
        if request.amount is not None:
            lines.append(t("Amount {amount}", amount=_money(t, request.amount)))
    else:
        lines.append(t("Approval request #{id} ({kind})", id=request.id, kind=request.kind))
    lines.append(t("Asked by {name}", name=asker.name if asker else "-"))
    if request.reason:
        lines.append(t("Reason: {reason}", reason=request.reason))
    return lines


def render_requested(session: Session, notice: NoticeRow, user: User | None, t: Translator
                     ) -> Reply | None:
    request = session.get(ApprovalRequest, int(notice.params.get("request_id", 0)))
    if request is None or request.status != "pending":
        return None
    text = "\n".join(["🔏 " + describe(session, t, request)[0],
                      *describe(session, t, request)[1:]])
    return Reply.with_buttons(text, [
        Button(t("Approve"), action="approval.approve", arg=str(request.id)),
        Button(t("Reject"), action="approval.reject", arg=str(request.id))])


def render_decided(session: Session, notice: NoticeRow, user: User | None, t: Translator
                   ) -> Reply | None:
    request = session.get(ApprovalRequest, int(notice.params.get("request_id", 0)))
    if request is None or request.status == "pending":
        return None
    decider = session.get(User, request.decided_by_id) if request.decided_by_id else None
    head = describe(session, t, request)[0]
    if request.status == "approved":
        text = t("✅ Approved by {name}: {what}", name=decider.name if decider else "-",
                 what=head)
        if request.kind == "contract":
            text += "\n" + t("You can now advance the deal to Order placed.")
    else:
        text = t("❌ Rejected by {name}: {what}", name=decider.name if decider else "-",
                 what=head)
    if request.decision_note:
        text += "\n" + t("Note: {note}", note=request.decision_note)
    return Reply(text)


async def approve_action(ctx: Ctx, arg: str) -> Step:
    request = approval_outcomes.decide(ctx.session, request_id=_id(arg), user=ctx.user,
                                       approve=True, now=ctx.now)
    return done(ctx.t("✅ Approved: {what}", what=describe(ctx.session, ctx.t, request)[0]))


async def reject_action(ctx: Ctx, arg: str) -> Step:
    request = ctx.session.get(ApprovalRequest, _id(arg))
    if request is None:
        return done(ctx.t("That approval request does not exist."))
    if ctx.user.role != Role.ADMIN.value and request.approver_id != ctx.user.id:
        return done(ctx.t("Only the requester's manager (or an admin) can decide this."))
    if request.status != "pending":
        return done(ctx.t("This request is already decided ({status}).",
                          status=request.status))
    return await ctx.begin("approval_reject", id=str(request.id))


def _id(arg: str) -> int:
    try:
        return int(arg)
    except ValueError:
        return 0


async def reject_start(ctx: Ctx, inc: Incoming) -> Step:
    ctx.data["request_id"] = int(ctx.args.get("id", "0"))
    return goto("reason", ctx.reply(ctx.t("Why do you reject it? Type the reason for the "
                                          "requester.")))


async def reject_reason(ctx: Ctx, inc: Incoming) -> Step:
    t = ctx.t
    reason = (inc.text or "").strip()
    if not reason:
        return goto("reason", ctx.reply(t("Please type a reason (or /cancel).")))
    if len(reason) > 500:
        return goto("reason", ctx.reply(t("That is too long: keep it under {limit} "
                                          "characters.", limit=500)))
    request = approval_outcomes.decide(ctx.session, request_id=ctx.data["request_id"],
                                       user=ctx.user, approve=False, now=ctx.now, note=reason)
    return done(t("❌ Rejected: {what}", what=describe(ctx.session, t, request)[0]))


# -- the manager's inbox ----------------------------------------------------------------------
INBOX_LIMIT = 10


def request_reply(session: Session, t: Translator, request: ApprovalRequest) -> Reply:
    """One waiting request: what is asked, since when, and its Approve / Reject buttons."""
    lines = describe(session, t, request)
    head = "🔏 " + lines[0]
    since = t("Waiting since {when}", when=t.datetime(request.created_at))
    return Reply.with_buttons("\n".join([head, *lines[1:], since]), [
        Button(t("Approve"), action="approval.approve", arg=str(request.id)),
        Button(t("Reject"), action="approval.reject", arg=str(request.id))])


def inbox_replies(session: Session, t: Translator, user: User) -> list[Reply]:
    """Everything waiting for this manager's decision, oldest first, each with buttons."""
    waiting = approvals.waiting_for(session, user, limit=INBOX_LIMIT + 1)
    total = approvals.count_waiting(session, user) if len(waiting) > INBOX_LIMIT else len(
        waiting)
    if not waiting:
        return [Reply(t("Nothing waits for your decision."))]
    head = t.n("{count} request waits for your decision (oldest first):",
               "{count} requests wait for your decision (oldest first):", total)
    replies = [Reply(head)]
    replies += [request_reply(session, t, r) for r in waiting[:INBOX_LIMIT]]
    if total > INBOX_LIMIT:
        replies.append(Reply(t("Decide these and send /approvals again for the next ones.")))
    return replies


async def inbox(ctx: Ctx, inc: Incoming) -> Step:
    """List the requests waiting for this manager (discounts, contracts), oldest first."""
    return done(*inbox_replies(ctx.session, ctx.t, ctx.user))


INBOX_PHRASINGS = Phrasings(
    "approvals_inbox", flow="approvals", label=N_("What waits for my approval"),
    en=("what is waiting for my approval", "my approvals", "pending approvals",
        "anything to approve?", "show me the approval requests", "what do I need to approve",
        "approvals inbox", "which discounts wait for me", "open approval requests",
        "do I have requests to decide", "what needs my decision", "show pending discounts",
        "contracts waiting for approval", "list approvals", "my inbox",
        "requests waiting for my sign-off", "approvals waiting on me", "what should I approve"),
    id=("apa yang menunggu persetujuan saya", "persetujuan saya", "persetujuan tertunda",
        "ada yang perlu disetujui?", "tampilkan permintaan persetujuan",
        "apa yang harus saya setujui", "kotak masuk persetujuan", "diskon mana yang menunggu",
        "permintaan persetujuan yang masih terbuka", "ada permintaan yang harus diputuskan?",
        "apa yang perlu keputusan saya", "tunjukkan diskon yang pending",
        "kontrak yang menunggu approval", "daftar approval", "inbox saya"),
)


def register(registry: Registry) -> None:
    """Register the approve / reject actions, the reject reason flow and the notices."""
    registry.add_flow(Flow("approvals", start=inbox, roles=APPROVERS, commands=("approvals",),
                           help=N_("Everything waiting for your approval, oldest first")))
    registry.add_phrasings(INBOX_PHRASINGS)
    registry.add_flow(Flow("approval_reject", start=reject_start,
                           states={"reason": reject_reason}, accepts={"reason": "text"},
                           roles=APPROVERS))
    registry.add_action(Action("approval.approve", approve_action, roles=APPROVERS,
                               group_ok=False))
    registry.add_action(Action("approval.reject", reject_action, roles=APPROVERS,
                               group_ok=False))
    registry.add_notice("approval.requested", render_requested)
    registry.add_notice("approval.decided", render_decided)
