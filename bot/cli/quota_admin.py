"""``sora-bot quota show|set|add|reset|history``: a user's credits, without chat access.

The same ledger operations as the moderators' ``/quota`` in chat, in the same current
window (``[quota]`` period, reset hour and time zone), each change written to the ledger
with the actor ``operator (cli)``. A user is ``platform:user_id`` (``telegram:42``); their
quota scope (a group chat, a guild, or ``direct``) is found in the database when they have
used only one, else named with ``--scope``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from bot.cli.admin_common import (
    OPERATOR,
    AdminError,
    add_json_flag,
    fields_table,
    local_time,
    open_store,
    print_json,
    reports_errors,
    table,
    user_arg,
    user_id_of,
)
from bot.config import Settings, load_settings
from bot.periods import Window, current_window
from bot.records import Balance, QuotaKey
from storage.admin import OperatorStore

ACTIONS = ("show", "set", "add", "reset", "history")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "quota",
        help="show or change a user's credits (operators)",
        description="Show or change a user's credits in the current quota period. "
        "USER is platform:user_id (telegram:42) or platform:@username (a user the bot has "
        "seen).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = _action(actions, "show", "balance in the current period")
    add_json_flag(show)
    limit = _action(actions, "set", "give the user a custom limit per period")
    limit.add_argument("amount", type=_non_negative, metavar="LIMIT", help="credits per period")
    extra = _action(actions, "add", "extra credits for this period only (negative removes)")
    extra.add_argument("amount", type=int, metavar="N", help="credits to add")
    extra.add_argument("--note", help="why (kept in the ledger)")
    _action(actions, "reset", "zero this period's usage and extras (a custom limit stays)")
    history = _action(actions, "history", "the user's ledger rows, newest first")
    history.add_argument("--limit", type=_positive, default=20, help="rows (default 20)")
    add_json_flag(history)
    p.set_defaults(run=run)


def _action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("user", type=user_arg, metavar="USER", help="platform:user_id")
    parser.add_argument("--scope", help="quota scope: group chat or guild id, or 'direct'")
    return parser


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


@reports_errors
async def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    async with open_store(settings) as store:
        platform, user_id = args.user
        user_id = await user_id_of(store, platform, user_id)
        mutation = args.action in ("set", "add")
        key = await resolve_key(store, platform, user_id, args.scope, allow_new=mutation)
        quota = settings.quota
        window = current_window(datetime.now(UTC), quota.period, quota.reset_hour, quota.timezone)
        ledger = store.ledger
        match args.action:
            case "set":
                await ledger.set_limit(key, args.amount, OPERATOR)
            case "add":
                await ledger.grant(key, args.amount, window, OPERATOR, note=args.note)
            case "reset":
                await ledger.reset(key, window, OPERATOR)
            case "history":
                return await _history(store, settings, key, args)
        balance = await ledger.balance(key, window, quota.default_limit)
        _print_balance(settings, key, balance, window, as_json=getattr(args, "json", False))
    return 0


async def resolve_key(
    store: OperatorStore, platform: str, user_id: str, scope: str | None, *, allow_new: bool
) -> QuotaKey:
    """The user's quota key. Without ``scope``, the one scope they have used; a user the
    database has never seen is an error, except for ``set``/``add`` in a named scope
    (credits prepared for someone who has not used the bot yet)."""
    user = f"{platform}:{user_id}"
    scopes = await store.user_scopes(platform, user_id)
    if scope is not None:
        if scope not in scopes and not allow_new:
            seen = f"; seen in: {', '.join(scopes)}" if scopes else ""
            raise AdminError(f"unknown user {user} in scope {scope!r}{seen}")
        return QuotaKey(platform, scope, user_id)
    if not scopes:
        hint = " (to give credits to a new user, name the scope with --scope)" if allow_new else ""
        raise AdminError(f"unknown user {user}: no jobs or quota records{hint}")
    if len(scopes) > 1:
        raise AdminError(
            f"{user} has credits in several scopes ({', '.join(scopes)}): pick one with --scope",
            code=2,
        )
    return QuotaKey(platform, scopes[0], user_id)


def _print_balance(
    settings: Settings, key: QuotaKey, balance: Balance, window: Window, *, as_json: bool
) -> None:
    timezone = settings.quota.timezone
    moderator = _configured_moderator(settings, key)
    if as_json:
        print_json(
            {
                "user": f"{key.platform}:{key.user_id}",
                "scope": key.scope,
                "period": settings.quota.period,
                "window": {"start": window.start, "end": window.end},
                "limit": balance.limit,
                "custom_limit": balance.custom_limit,
                "used": balance.used,
                "extra": balance.granted,
                "remaining": balance.remaining,
                "configured_moderator": moderator,
            }
        )
        return
    pairs: list[tuple[str, object]] = [
        ("user", f"{key.platform}:{key.user_id}"),
        ("scope", key.scope),
        ("period", f"{settings.quota.period}, until {local_time(window.end, timezone)}"),
        ("limit", f"{balance.limit} ({'custom' if balance.custom_limit else 'default'})"),
        ("used", balance.used),
        ("extra", balance.granted),
        ("remaining", balance.remaining),
    ]
    if moderator and settings.quota.moderators_unlimited:
        pairs.append(("note", "a configured moderator: not limited by quota"))
    print(fields_table(pairs))


def _configured_moderator(settings: Settings, key: QuotaKey) -> bool:
    """Whether the config names the user a moderator (platform admins are known only in
    chat)."""
    platform_list: list[str] = {
        "telegram": settings.telegram.moderators,
        "discord": settings.discord.moderators,
    }.get(key.platform, [])
    return f"{key.platform}:{key.user_id}" in settings.bot.moderators or key.user_id in (
        platform_list
    )


async def _history(
    store: OperatorStore, settings: Settings, key: QuotaKey, args: argparse.Namespace
) -> int:
    entries = await store.ledger.history(key, args.limit)
    if args.json:
        print_json(entries)
        return 0
    if not entries:
        print(f"no ledger rows for {key.platform}:{key.user_id} in scope {key.scope}")
        return 0
    timezone = settings.quota.timezone
    rows = [
        (e.id, local_time(e.at, timezone), e.kind, e.amount, e.job_id or "-", e.actor or "-",
         e.note or "")
        for e in entries
    ]  # fmt: skip
    print(table(("ID", "AT", "KIND", "AMOUNT", "JOB", "ACTOR", "NOTE"), rows))
    return 0
