"""What is stored and the merchant's rights over it: /privacy, /export, /delete, /calendar."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from bot.alerts.keys import parse_key
from bot.alerts.screens import offset_view
from bot.domain.callbacks import DeleteData
from bot.domain.interview import likely_path
from bot.services.core import Core, Turn, UserInfo
from bot.storage import erase
from bot.storage.models import Awaiting, Outbox, OutboxStatus
from bot.views.calendar import CalendarEntry, build_calendar
from bot.views.model import Document, Outcome, Screen
from bot.views.screens import format_date

CALENDAR_UID = "storefront-migration-bot"


class PrivacyService:
    """Privacy notice, data export, erasure, and the calendar file."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.views = core.views

    async def privacy(self, user: UserInfo) -> Outcome:
        """/privacy: what is stored, why, and for how long."""
        async with self.core.turn(user, repeatable=True) as turn:
            screen = self.views.simple(
                turn.lang, "privacy.html.j2", retention_days=self.core.retention_days
            )
            return Outcome(send=[screen])

    async def export(self, user: UserInfo) -> Outcome:
        """/export: a JSON file of everything stored about the merchant."""
        async with self.core.turn(user, repeatable=True) as turn:
            await turn.flush()
            data = await erase.export_rows(turn.session, turn.merchant.id)
            lang = turn.lang
        document = Document(
            filename="my-data.json",
            data=erase.export_json(data, self.core.clock()),
            caption=self.views.r.plain(lang, "privacy.export_caption"),
        )
        return Outcome(documents=[document])

    async def ask_delete(self, user: UserInfo) -> Outcome:
        """/delete: ask for confirmation first."""
        async with self.core.turn(user, repeatable=True) as turn:
            turn.merchant.awaiting = Awaiting.DELETE  # a typed yes / no is read (typed())
            return Outcome(send=[self.views.delete_question(turn.lang)])

    async def typed(self, turn: Turn, text: str) -> Outcome | None:
        """Typed while "delete everything?" is on screen: "no" keeps everything; "yes" asks
        for the button (erasing cannot be undone, so a typed word is not enough); anything
        else passes on."""
        if turn.merchant.current is not None:  # a question is open: the text answers it
            turn.merchant.awaiting = None
            return None
        words = self.core.typed_words(turn.lang)
        said = words.said(text)
        if said in words.delete_yes:
            tap = Screen(self.views.r.text(turn.lang, "typed_notices.delete_tap"))
            return Outcome(send=[tap, self.views.delete_question(turn.lang)])
        turn.merchant.awaiting = None
        if said in words.delete_no:
            return Outcome(send=[self.views.simple(turn.lang, "delete_cancelled.html.j2")])
        return None

    async def press(self, user: UserInfo, button: DeleteData) -> Outcome:
        """The answer to "delete everything?"."""
        async with self.core.turn(user) as turn:
            lang = turn.lang
            if turn.merchant.awaiting == Awaiting.DELETE:
                turn.merchant.awaiting = None
            if button.choice != "yes":
                return Outcome(edit=self.views.simple(lang, "delete_cancelled.html.j2"))
            await turn.erasing()  # erased below: the turn must not write the merchant back
            counts = await erase.erase(turn.session, turn.merchant.id)
            return Outcome(edit=self.views.simple(lang, "deleted.html.j2", counts=counts))

    async def calendar(self, user: UserInfo) -> Outcome:
        """/calendar: an .ics file with the shutdown, the go-live date and scheduled alerts."""
        r = self.views.r
        async with self.core.turn(user, repeatable=True) as turn:
            merchant_id, lang, answers = turn.merchant.id, turn.lang, turn.answers
            rows = await turn.session.exec(
                select(Outbox).where(
                    Outbox.merchant_id == merchant_id, Outbox.status == OutboxStatus.PENDING
                )
            )
            pending = sorted(rows, key=lambda row: row.due_at)
        go_live = answers.get("go_live")
        deadline = self.core.deadline
        if deadline < self.core.clock() and not isinstance(go_live, str) and not pending:
            # Only the long-past shutdown would be in the file: say what would fill it.
            text = r.text(
                lang,
                "calendar.nothing_ahead",
                deadline=format_date(deadline.date(), self.core.content.locale(lang).code),
                golive_offered="go_live" in likely_path(self.core.content.interview, answers),
            )
            return Outcome(send=[Screen(text)])
        entries = [
            CalendarEntry(
                uid=f"deadline-{merchant_id}@{CALENDAR_UID}",
                summary=r.plain(lang, "calendar.deadline"),
                when=deadline.date(),
                description=r.plain(lang, "calendar.deadline_description"),
            )
        ]
        if isinstance(go_live, str):
            entries.append(
                CalendarEntry(
                    uid=f"golive-{merchant_id}@{CALENDAR_UID}",
                    summary=r.plain(lang, "calendar.go_live"),
                    when=date.fromisoformat(go_live),
                    description=r.plain(lang, "calendar.go_live_description"),
                    remind_before=timedelta(days=7),
                )
            )
        for row in pending:
            info = parse_key(row.key)
            if info is None:
                continue
            offset = offset_view(info.offset or "0d")
            entries.append(
                CalendarEntry(
                    uid=f"alert-{row.key.replace(':', '-')}-{merchant_id}@{CALENDAR_UID}",
                    summary=r.plain(
                        lang,
                        "calendar.alert",
                        kind=info.kind,
                        snoozed=info.snoozed,
                        n=offset["n"],
                        unit=offset["unit"],
                    ),
                    when=row.due_at,
                    description=r.plain(lang, "calendar.alert_description"),
                )
            )
        data = build_calendar(
            entries, name=r.plain(lang, "calendar.name"), stamp=self.core.clock()
        )
        document = Document(
            filename="storefront-to-tiktok-shop.ics",
            data=data,
            caption=r.plain(lang, "calendar.caption"),
        )
        return Outcome(documents=[document])
