"""/language: the merchant picks the language the bot writes in (buttons or a typed name)."""

from __future__ import annotations

from bot.content.values import language_locale
from bot.domain.callbacks import PickLanguage
from bot.domain.interview import normalise
from bot.services.core import Core, Turn, UserInfo
from bot.storage.models import Awaiting
from bot.views.model import Outcome, Screen


class LanguageService:
    """Shows the shipped languages, each in its own name, and stores the merchant's choice.

    The choice is the merchant's ``locale``: every message from the next one on, and every
    reminder already queued (rendered when it is sent), is in that language. Their
    interview and plan are untouched.
    """

    def __init__(self, core: Core) -> None:
        self.core = core
        self.views = core.views

    def native_name(self, code: str) -> str:
        """The language's name in itself: Deutsch, English, português (Brasil)."""
        return self.views.native_name(code)

    def names(self) -> dict[str, str]:
        """Every typed name that picks a language (its own name, its code, and its name in
        every shipped language), normalised, to the locale code."""
        found: dict[str, str] = {}
        shipped = self.core.content.shipped
        for code in shipped:
            found[normalise(code)] = code
            found[normalise(self.native_name(code))] = code
            for other in shipped:
                name = language_locale(code).get_display_name(language_locale(other))
                if name:
                    found.setdefault(normalise(name), code)
        return found

    def picker(self, lang: str | None) -> Screen:
        """The question with one button per shipped language (the current one marked)."""
        return self.views.language_picker(lang)

    async def show(self, user: UserInfo, typed: str | None = None) -> Outcome:
        """/language (or ``/language Deutsch``)."""
        async with self.core.turn(user, repeatable=True) as turn:
            if typed:
                code = self.names().get(normalise(typed))
                if code is not None:
                    return self._switch(turn, code, edit=False)
            turn.merchant.awaiting = Awaiting.LANGUAGE
            notice = [Screen(self.views.r.text(turn.lang, "language.unknown"))] if typed else []
            return Outcome(send=[*notice, self.picker(turn.lang)])

    async def opened(self, turn: Turn) -> Outcome:
        """The picker in a turn already open ("language" typed without the slash)."""
        turn.merchant.awaiting = Awaiting.LANGUAGE
        return Outcome(send=[self.picker(turn.lang)])

    async def press(self, user: UserInfo, button: PickLanguage) -> Outcome:
        """A language button."""
        async with self.core.turn(user) as turn:
            by_lower = {code.lower(): code for code in self.core.content.shipped}
            code = by_lower.get(button.code)
            if code is None:  # a language no longer shipped
                return Outcome(
                    toast=self.views.r.plain(turn.lang, "language.unknown"),
                    edit=self.picker(turn.lang),
                )
            return self._switch(turn, code, edit=True)

    async def typed(self, turn: Turn, text: str) -> Outcome | None:
        """A language name typed while the picker is on screen; anything else passes on."""
        code = self.names().get(normalise(text))
        if code is None:
            turn.merchant.awaiting = None
            return None
        return self._switch(turn, code, edit=False)

    def _switch(self, turn: Turn, code: str, *, edit: bool) -> Outcome:
        merchant = turn.merchant
        merchant.locale = code
        if merchant.awaiting == Awaiting.LANGUAGE:
            merchant.awaiting = None
        done = Screen(self.views.r.text(code, "language.switched"))
        if edit:
            return Outcome(toast=self.native_name(code), edit=done)
        return Outcome(send=[done])
