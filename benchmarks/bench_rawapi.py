"""CPU per Bot API call: PTB's methods against bot.botapi.raw, alternating, in one process.

Against the in-process fake Bot API (its own cost is in both columns, so read the
difference): a reply of an interview-sized screen (about 400 characters of HTML, six
buttons in three rows) sent with ``send_message`` + ``markup()`` and with
``raw.send_text`` (and, to show the keyboard's share, the raw call given PTB's
``InlineKeyboardMarkup``); and polling a batch of 50 text updates the old way (``get_updates``,
``to_dict()`` for the inbox, ``Update.de_json`` when handled) and the new way (raw JSON,
``Update.de_json`` when handled). Milliseconds of CPU per reply / per update, each round.

    python -m benchmarks.bench_rawapi [--rounds 4] [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Defaults, ExtBot

from bot.botapi import raw
from bot.botapi.fake import DEFAULT_TOKEN, FakeRequest, FakeTelegram
from bot.botapi.markup import markup
from bot.views.model import Button, Screen

CHAT = 77
BATCH = 50
SCREEN = Screen(
    "<b>Step 3 of 10: your business</b>\n\n"
    + "Tell me how your shop is registered, so that I can show you the right documents "
    "for TikTok Shop's seller verification. <i>You can change this later.</i>\n\n"
    * 2
    + "<a href='https://example.com/help'>What counts as a registered company?</a>",
    keyboard=(
        (Button("Registered company", data="1q:2:entity:company"),),
        (Button("Sole trader", data="1q:2:entity:sole"), Button("Not yet", data="1q:2:e:no")),
        (Button("« Back", data="1b:2"), Button("Skip", data="1s:2"), Button("Help", data="1h")),
    ),
)


async def cpu_ms(calls: int, one: Callable[[], Awaitable[object]]) -> float:
    """Milliseconds of process CPU per call of ``one``."""
    started = time.process_time()
    for _ in range(calls):
        await one()
    return (time.process_time() - started) * 1000 / calls


async def main(rounds: int, calls: int) -> None:
    fake = FakeTelegram(token=DEFAULT_TOKEN)
    bot: ExtBot[None] = ExtBot(
        DEFAULT_TOKEN,
        request=FakeRequest(fake),
        get_updates_request=FakeRequest(fake),
        defaults=Defaults(
            parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
        ),
    )
    await bot.initialize()

    async def ptb_send() -> object:
        return await bot.send_message(CHAT, SCREEN.text, reply_markup=markup(SCREEN))

    async def raw_send() -> object:
        return await raw.send_text(bot, CHAT, SCREEN)

    async def raw_send_ptb_markup() -> object:  # the keyboard's share: PTB objects, raw call
        params = {"chat_id": CHAT, "text": SCREEN.text, "reply_markup": markup(SCREEN)}
        return await raw.post(bot, "sendMessage", {**params, "parse_mode": ParseMode.HTML})

    offset = 0

    def push() -> None:
        for i in range(BATCH):
            fake.push_update(fake.text_update(1000 + i, f"answer {i}"))

    async def ptb_poll() -> object:
        nonlocal offset
        push()
        updates = await bot.get_updates(offset=offset, timeout=0)
        payloads = [u.to_dict() for u in updates]  # into the inbox
        parsed = [Update.de_json(p, bot) for p in payloads]  # handled
        offset = updates[-1].update_id + 1
        return parsed

    async def raw_poll() -> object:
        nonlocal offset
        push()
        payloads = await raw.get_updates(
            bot, offset=offset, long_poll=0, read_timeout=5, allowed_updates=()
        )
        parsed = [Update.de_json(p, bot) for p in payloads]  # handled
        offset = payloads[-1]["update_id"] + 1
        return parsed

    polls = max(calls // BATCH, 10)
    print("ms CPU per reply (send) and per update (poll); PTB / raw, each round")
    print("(the fake Bot API's own work is in both columns)")
    for n in range(1, rounds + 1):
        fake.calls.clear()
        send = (await cpu_ms(calls, ptb_send), await cpu_ms(calls, raw_send))
        keyboard = await cpu_ms(calls, raw_send_ptb_markup)
        poll = (await cpu_ms(polls, ptb_poll) / BATCH, await cpu_ms(polls, raw_poll) / BATCH)
        print(
            f"round {n}: send {send[0]:.3f} / {send[1]:.3f} (saves {send[0] - send[1]:.3f}; "
            f"raw with PTB's markup {keyboard:.3f})   "
            f"poll {poll[0]:.3f} / {poll[1]:.3f} (saves {poll[0] - poll[1]:.3f})"
        )
    await bot.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.calls))
