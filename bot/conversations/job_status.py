"""The technician's reports from the job: arrived (a location at the site), done (notes,
parts, a photo), cannot complete (a reason), running late (a new ETA), and a location
shared outside any flow."""

from __future__ import annotations

from datetime import time

from bot.conversations import dates, locations
from bot.conversations.flow import Ctx, Flow, Step, done, goto, ongoing
from bot.conversations.jobs import (
    SKIP_WORDS,
    STATUS_LABELS,
    TECHNICIANS,
    delay_draft,
    eta_label,
    number_arg,
    technician_buttons,
)
from bot.conversations.messages import Button, Incoming, Reply, button_rows
from bot.conversations.registry import Registry
from bot.i18n import N_
from core import fieldservice as fs
from core import geo, job_status, technicians
from core.errors import DomainError
from core.models.fieldservice import ServiceJob
from core.textextract import ExtractLimits, check_image


# -- the technician's small flows ----------------
def _own(ctx: Ctx, *statuses: str) -> ServiceJob:
    job = fs.get_job(ctx.session, int(ctx.data["job"]), ctx.user)
    if job.technician_id != ctx.user.id:
        raise DomainError("job.not_found")
    if statuses and job.status not in statuses:
        raise DomainError("job.bad_status", job=job.id, status=ctx.t(STATUS_LABELS[job.status]))
    return job


def _begin_job(ctx: Ctx, *statuses: str) -> ServiceJob:
    ctx.data["job"] = number_arg(ctx.args.get("job", ""))
    return _own(ctx, *statuses)


async def arrive_start(ctx: Ctx, inc: Incoming) -> Step:
    """Ask for a location share at the site."""
    job = _begin_job(ctx, "assigned", "en_route")
    return locations.ask_location(ctx, "where", ctx.t(
        "Share your location (📎 → Location) so I can check you are at the site of job #{id}: "
        "{address}", id=job.id, address=job.site_address or "—"))


async def arrive_where(ctx: Ctx, inc: Incoming) -> Step:
    """Check the shared location (or a pasted map link) against the site."""
    try:
        point = locations.location_of(inc)
    except geo.ShortMapLink:
        return locations.ask_location(ctx, "where", ctx.t(locations.SHORT_LINK))
    if point is None:
        return locations.ask_location(ctx, "where", ctx.t(
            "Please share your location (or paste a map link), or /cancel."))
    lat, lon = point
    job = _own(ctx, "assigned", "en_route")
    dist = job_status.distance_to_site(job, lat, lon)
    if dist is not None and dist > job_status.ARRIVAL_RADIUS_KM:
        technicians.record_location(ctx.user, lat, lon, ctx.now)  # still the latest known position
        return locations.ask_location(ctx, "where", ctx.t(
            "You are {km} km from the site; on site means within {radius} m. Share your "
            "location again when you are there, or /cancel.", km=f"{dist:.1f}",
            radius=int(job_status.ARRIVAL_RADIUS_KM * 1000)))
    job = job_status.arrive(ctx.session, job_id=job.id, user=ctx.user, lat=lat, lon=lon,
                            now=ctx.now)
    return done(Reply.with_buttons(
        ctx.t("On site at job #{id} since {time}. Press Done when finished.", id=job.id,
              time=ctx.t.time(ctx.now)), *technician_buttons(ctx.t, job)))


async def done_start(ctx: Ctx, inc: Incoming) -> Step:
    """Finish a job: notes, parts used, an optional photo."""
    job = _begin_job(ctx, "on_site")
    return goto("notes", ctx.t("Job #{id}: what did you do? A short note for the customer file.",
                               id=job.id))


async def done_notes(ctx: Ctx, inc: Incoming) -> Step:
    """Take the notes."""
    text = (inc.text or "").strip()
    if len(text) < 3:
        return goto("notes", ctx.t("Write a short note of what you did."))
    ctx.data["notes"] = text[:4000]
    return goto("parts", Reply.with_buttons(
        ctx.t("Which parts did you use? e.g. \"2x filter, 1x belt\"."),
        [Button(ctx.t("No parts"), value="none")]))


async def done_parts(ctx: Ctx, inc: Incoming) -> Step:
    """Take the parts used."""
    text = (inc.text or "").strip()
    if inc.button == "none" or text.lower() in SKIP_WORDS:
        ctx.data["parts"] = []
    elif text:
        ctx.data["parts"] = job_status.parse_parts(text)
    else:
        return goto("parts", ctx.t("List the parts, or press No parts."))
    return goto("photo", Reply.with_buttons(ctx.t("Send a photo of the finished work, or press "
                                                  "Skip."), [Button(ctx.t("Skip"), value="skip")]))


async def done_photo(ctx: Ctx, inc: Incoming) -> Step:
    """Take the optional photo and close the job."""
    photo = None
    if inc.file is not None:
        if not inc.file.mime.startswith("image/"):
            return goto("photo", ctx.t("That is not a photo. Send a picture, or press Skip."))
        try:  # its header only: a picture that would decode to gigabytes is refused
            check_image(inc.file.name, inc.file.data,
                        ExtractLimits.from_settings(ctx.services.settings))
        except DomainError as exc:
            if exc.code == "kb.not_image":
                return goto("photo", ctx.t("That is not a photo. Send a picture, or press "
                                           "Skip."))
            return goto("photo", ctx.t.error(exc.code, exc.params))
        photo = (inc.file.name[:200], inc.file.mime[:80], inc.file.data)
    elif not (inc.button == "skip" or (inc.text or "").strip().lower() in SKIP_WORDS):
        return goto("photo", ctx.t("Send a photo, or press Skip."))
    job = job_status.complete_job(ctx.session, job_id=int(ctx.data["job"]), user=ctx.user,
                                  notes=ctx.data["notes"], parts=ctx.data["parts"], now=ctx.now,
                                  photo=photo)
    parts = ", ".join(f"{p['qty']}× {p['item']}" for p in job.parts) or ctx.t("none")
    return done(ctx.t("Job #{id} is done. Parts: {parts}. The rep and the manager are told. "
                      "Thank you!", id=job.id, parts=parts))


async def fail_start(ctx: Ctx, inc: Incoming) -> Step:
    """Report that a job cannot be completed."""
    job = _begin_job(ctx, *fs.ACTIVE)
    return goto("reason", ctx.t("Why can job #{id} not be completed? (e.g. part missing, "
                                "customer absent)", id=job.id))


async def fail_reason(ctx: Ctx, inc: Incoming) -> Step:
    """Take the reason."""
    text = (inc.text or "").strip()
    if len(text) < 3:
        return goto("reason", ctx.t("Say in a few words why the job cannot be completed."))
    job = job_status.cannot_complete(ctx.session, job_id=int(ctx.data["job"]), user=ctx.user,
                                     reason=text, now=ctx.now)
    return done(ctx.t("Job #{id} is marked as not completed. The manager is told and will "
                      "follow up.", id=job.id))


async def eta_start(ctx: Ctx, inc: Incoming) -> Step:
    """Ask for a new ETA."""
    job = _begin_job(ctx, "assigned", "en_route")
    buttons = [Button(ctx.t("In {eta}", eta=eta_label(ctx.t, m)), value=str(m))
               for m in fs.ETA_CHOICES_MIN]
    return goto("minutes", Reply.with_buttons(
        ctx.t("When will you be at job #{id}?", id=job.id), *button_rows(buttons, 2)))


async def eta_minutes(ctx: Ctx, inc: Incoming) -> Step:
    """Take the new ETA; draft the delay notice when it slips past the window."""
    value = inc.button or (inc.text or "").strip()
    if not value.isdigit() and (typed := dates.parse_when(
            value, ctx.t.locale, ctx.now, ctx.user.timezone)) is not None:
        # "14:30", "in 45 minutes", "jam 3 sore": minutes from now
        at = dates.moment(typed, ctx.user.timezone, time(8, 0))
        value = str(max(0, int((at - ctx.now).total_seconds() // 60)))
    if not value.isdigit():
        return goto("minutes", ctx.t("Pick one of the buttons, or type a time (e.g. 14:30 or "
                                     "in 45 minutes)."))
    job = job_status.set_eta(ctx.session, job_id=int(ctx.data["job"]), user=ctx.user,
                             minutes=int(value), now=ctx.now)
    t = ctx.t
    text = t("New ETA for job #{id}: {eta}.", id=job.id,
             eta=t.time(job.eta_at) if job.eta_at else "—")
    if job.eta_at and job_status.is_late(job, ctx.now):
        text += "\n" + t("That is after the customer's window, so the account's rep was "
                         "asked to send this:") + "\n" + delay_draft(t, ctx.session, job,
                                                                      job.eta_at)
    return done(text)


async def location_start(ctx: Ctx, inc: Incoming) -> Step:
    """A technician's location share outside a job step: remember it for dispatch; at the
    site of one of their jobs, offer to check in."""
    point = inc.location
    if point is None and ctx.args.get("lat") and ctx.args.get("lon"):  # a pasted map link
        point = (float(ctx.args["lat"]), float(ctx.args["lon"]))
    if point is None:
        return done(ctx.t("Share your location to update where dispatch thinks you are."))
    lat, lon = point
    technicians.record_location(ctx.user, lat, lon, ctx.now)
    for job in fs.route_for_today(ctx.session, ctx.user, ctx.now):
        dist = job_status.distance_to_site(job, lat, lon)
        if job.status in ("assigned", "en_route") and dist is not None \
                and dist <= job_status.ARRIVAL_RADIUS_KM:
            job = job_status.arrive(ctx.session, job_id=job.id, user=ctx.user, lat=lat, lon=lon,
                                    now=ctx.now)
            return done(Reply.with_buttons(
                ctx.t("On site at job #{id} since {time}. Press Done when finished.",
                      id=job.id, time=ctx.t.time(ctx.now)), *technician_buttons(ctx.t, job)))
    return done(ctx.t("Location noted; new jobs are offered by distance from here."))


def register(registry: Registry) -> None:
    """Register the technician's status flows."""
    registry.add_flow(Flow("job_arrive", start=arrive_start, roles=TECHNICIANS,
                           states={"where": arrive_where}, accepts={"where": "text"}))
    registry.add_flow(Flow("job_done", start=done_start, roles=TECHNICIANS,
                           accepts={"notes": "text", "parts": "text", "photo": "text"},
                           states={"notes": done_notes, "parts": done_parts,
                                   "photo": done_photo},
                           ongoing=ongoing(N_("Still reporting the job as done."))))
    registry.add_flow(Flow("job_fail", start=fail_start, roles=TECHNICIANS,
                           states={"reason": fail_reason}, accepts={"reason": "text"}))
    registry.add_flow(Flow("job_eta", start=eta_start, roles=TECHNICIANS,
                           states={"minutes": eta_minutes}, accepts={"minutes": "number"}))
    # For a technician's location share outside a flow: the registry has one location
    # flow (the visit check-in), which should hand technicians over to this one.
    registry.add_flow(Flow("job_location", start=location_start, roles=TECHNICIANS))
    registry.more_location_flows.append("job_location")
