"""Reach the right merchants (issue #19 item 3): segment, message, dry run, send, progress.

The pages wrap :class:`bot.broadcast.service.BroadcastService` (the CLI uses the same):

* ``GET /broadcast``: the segment picker (the funnel's filters plus "stopped at question X
  idle more than N days", "plan not opened", "no progress in N days") and the message (a
  content template, or free text checked as Telegram HTML), and the latest campaigns;
* ``POST /broadcast/dry-run``: how many merchants, how many per language, a preview per
  language and the ETA at ``SEND_RATE``; problems are shown on the form (400);
* ``POST /broadcast/send``: queues the campaign (one outbox row per merchant) and redirects
  to its progress page;
* ``GET /broadcast/{id}``: sent / failed / skipped / left, refreshed every 2 s while
  anything is left (a ``<meta refresh>``: the console allows no scripts), with Cancel;
* ``GET /broadcast/{id}/progress.json``: the same as JSON (401 without a session);
* ``POST /broadcast/{id}/cancel``: cancels what is not sent yet.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.botapi.tghtml import html_to_terminal
from bot.broadcast.segments import Segment, SegmentError, parse_segment
from bot.broadcast.service import BroadcastError, BroadcastService, Message
from bot.console.framework import PREFIX, Page, PageContext, redirect

CHOICES = (("market", "Market"), ("platform", "Platform"), ("shop_status", "TikTok Shop status"))
FIELD = {"market": "market", "platform": "platform", "shop_status": "status"}


def _service(ctx: PageContext) -> BroadcastService:
    service = ctx.data.broadcasts
    if service is None:  # pragma: no cover - always wired by build_application
        raise web.HTTPServiceUnavailable(text="broadcasts are not wired in this process")
    return service


def _choices(ctx: PageContext) -> dict[str, list[tuple[str, str]]]:
    """Options of the segment picker: (id, label) per filter, from the live content."""
    content = ctx.content
    out: dict[str, list[tuple[str, str]]] = {}
    for qid, _label in CHOICES:
        try:
            question = content.interview.question(qid)
        except KeyError:
            out[qid] = []
            continue
        out[qid] = [
            (option, str(content.string(None, f"questions.{qid}.options.{option}")))
            for option in question.options
        ]
    out["lang"] = [(code, code) for code in sorted(content.locales)]
    out["questions"] = [(qid, qid) for qid in content.interview.questions]
    return out


def _form_values(form: Any) -> dict[str, Any]:
    def many(name: str) -> list[str]:
        return [str(v) for v in form.getall(name, []) if str(v).strip()]

    return {
        "market": many("market"),
        "platform": many("platform"),
        "shop_status": many("shop_status"),
        "lang": many("lang"),
        "stopped": str(form.get("stopped", "")).strip(),
        "stopped_days": str(form.get("stopped_days", "")).strip(),
        "plan_not_opened": bool(form.get("plan_not_opened")),
        "idle": str(form.get("idle", "")).strip(),
        "kind": str(form.get("kind", "template")),
        "template": str(form.get("template", "")).strip(),
        "text": str(form.get("text", "")),
    }


def _segment_of(values: dict[str, Any]) -> Segment:
    parts = [
        f"{FIELD[name]}={','.join(values[name])}"
        for name in ("market", "platform", "shop_status")
        if values[name]
    ]
    if values["lang"]:
        parts.append(f"lang={','.join(values['lang'])}")
    if values["stopped"]:
        parts.append(f"stopped={values['stopped']}:{values['stopped_days'] or 0}")
    if values["plan_not_opened"]:
        parts.append("plan=not-opened")
    if values["idle"]:
        parts.append(f"idle={values['idle']}")
    return parse_segment(" ".join(parts))


def _message_of(service: BroadcastService, values: dict[str, Any]) -> Message:
    if values["kind"] == "text":
        return service.message(text=values["text"])
    return service.message(template=values["template"] or None)


def _blank() -> dict[str, Any]:
    return {
        "market": [],
        "platform": [],
        "shop_status": [],
        "lang": [],
        "stopped": "",
        "stopped_days": "3",
        "plan_not_opened": False,
        "idle": "",
        "kind": "template",
        "template": "",
        "text": "",
    }


async def _form_page(
    ctx: PageContext, values: dict[str, Any], problems: list[str], status: int = 200
) -> web.StreamResponse:
    service = _service(ctx)
    return ctx.render(
        "broadcast.html.j2",
        title="Broadcast",
        values=values,
        choices=_choices(ctx),
        labels=CHOICES,
        templates=service.templates(),
        problems=problems,
        campaigns=await service.campaigns(limit=20),
        status=status,
    )


async def picker(ctx: PageContext) -> web.StreamResponse:
    """The segment picker and message form, and the latest campaigns."""
    return await _form_page(ctx, _blank(), [])


async def dry_run(ctx: PageContext) -> web.StreamResponse:
    """POST: count, preview and estimate; nothing is queued."""
    service = _service(ctx)
    values = _form_values(await ctx.form())
    problems: list[str] = []
    try:
        segment = _segment_of(values)
    except SegmentError as exc:
        problems.append(f"Segment: {exc}")
    try:
        message = _message_of(service, values)
    except BroadcastError as exc:
        problems.append(f"Message: {exc}")
    if problems:
        return await _form_page(ctx, values, problems, status=400)
    try:
        dry = await service.dry_run(segment, message)
    except SegmentError as exc:  # an id the content does not have (any more)
        return await _form_page(ctx, values, [f"Segment: {exc}"], status=400)
    except BroadcastError as exc:
        return await _form_page(ctx, values, [f"Message: {exc}"], status=400)
    previews = {lang: html_to_terminal(text) for lang, text in dry.previews.items()}
    return ctx.render(
        "broadcast_dry_run.html.j2",
        title="Dry run",
        dry=dry,
        previews=previews,
        segment_text=segment.text(),
        message=message,
        send_rate=ctx.settings.send_rate,
    )


async def send(ctx: PageContext) -> web.StreamResponse:
    """POST: queue the campaign the dry run showed; then its progress page."""
    service = _service(ctx)
    form = await ctx.form()
    template = str(form.get("template", "")).strip() or None
    text = str(form.get("text", "")) or None
    try:
        segment = parse_segment(str(form.get("segment", "")))
        message = service.message(template=template, text=text)
        campaign = await service.create(segment, message, by=f"operator {ctx.operator_id}")
    except (SegmentError, BroadcastError) as exc:
        return ctx.render("message.html.j2", title="Not sent", message=str(exc), status=400)
    ctx.audit("broadcast queued", campaign=campaign, segment=repr(segment.text() or "everyone"))
    return redirect(f"{PREFIX}/broadcast/{campaign}")


def _campaign_id(ctx: PageContext) -> int:
    raw = ctx.request.match_info.get("id", "")
    if not raw.isdigit() or len(raw) > 9:
        raise web.HTTPNotFound(text="no such campaign")
    return int(raw)


async def progress_page(ctx: PageContext) -> web.StreamResponse:
    """Progress, refreshed while anything is left, with Cancel."""
    progress = await _service(ctx).progress(_campaign_id(ctx))
    if progress is None:
        return ctx.render(
            "message.html.j2", title="Not found", message="No such campaign.", status=404
        )
    return ctx.render("broadcast_progress.html.j2", title=f"Campaign {progress.id}", p=progress)


async def progress_json(ctx: PageContext) -> web.StreamResponse:
    """The progress as JSON (for scripts and tests)."""
    progress = await _service(ctx).progress(_campaign_id(ctx))
    if progress is None:
        return web.json_response({"error": "no such campaign"}, status=404)
    return web.json_response(progress.as_dict())


async def cancel(ctx: PageContext) -> web.StreamResponse:
    """POST: cancel the messages not sent yet."""
    campaign = _campaign_id(ctx)
    cancelled = await _service(ctx).cancel(campaign, by=f"operator {ctx.operator_id}")
    if cancelled is None:
        return ctx.render(
            "message.html.j2", title="Not found", message="No such campaign.", status=404
        )
    ctx.audit("broadcast cancelled", campaign=campaign, not_sent=cancelled)
    return redirect(f"{PREFIX}/broadcast/{campaign}")


PAGES = [
    Page("/broadcast", picker, title="Broadcast"),
    Page("/broadcast/dry-run", dry_run, method="POST"),
    Page("/broadcast/send", send, method="POST", audit=False),
    Page("/broadcast/{id}", progress_page),
    Page("/broadcast/{id}/progress.json", progress_json, api=True),
    Page("/broadcast/{id}/cancel", cancel, method="POST", audit=False),
]
