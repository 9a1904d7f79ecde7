"""``/quota``: a member's own balance, and the moderators' tools to manage others'.

The adapter decides who is a platform admin (``Invocation.is_moderator``) and, where it
can, resolves the target user (a reply, a mention, an @username it has seen) into the
options ``target_id`` and ``target_name``; a bare numeric id or ``<@123>`` works here too.
"""

from __future__ import annotations

import re

from bot import texts
from bot.commands import QuotaArgs, parse_quota
from bot.errors import InvalidRequest, NotAllowed
from bot.models import Invocation, Reply
from bot.records import Balance, QuotaKey
from bot.services import Services

# Platform user ids are ASCII digits: Telegram's fit in 52 bits, Discord's snowflakes in 64
# (at most 20 digits). Anything else is not an id, and is not echoed back at length.
_USER_ID = re.compile(r"^[0-9]{1,20}$")
_MENTION = re.compile(r"^<@!?([0-9]{1,20})>$")
HISTORY_LENGTH = 10


class QuotaCommands:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def handle(self, inv: Invocation) -> Reply:
        args = parse_quota(inv.text, inv.options)
        platform, scope = inv.user.platform.value, inv.conversation.scope
        if args.action == "me":
            key = self.s.quota_key(platform, scope, inv.user.id)
            return Reply(self._balance_text(inv, await self._balance(inv, key)))
        if not (inv.is_moderator or self.s.is_configured_moderator(platform, inv.user.id)):
            raise NotAllowed("not_moderator")
        actor = f"{platform}:{inv.user.id}"
        window = self.s.window()
        quotas, locale = self.s.quotas, inv.locale
        if args.action == "default":
            amount = _amount(args)
            await quotas.set_scope_default(platform, scope, amount, actor)
            return Reply(texts.t(locale, "quota.default_done", limit=amount), private=False)
        user_id, user_name = self._target(inv, args)
        key = self.s.quota_key(platform, scope, user_id)
        match args.action:
            case "show":
                balance = await self._balance(inv, key)
                return Reply(
                    texts.t(locale, "quota.show", user=user_name, **self._figures(balance))
                )
            case "set":
                amount = _amount(args)
                await quotas.set_limit(key, amount, actor)
                return Reply(
                    texts.t(locale, "quota.set_done", user=user_name, limit=amount), private=False
                )
            case "add":
                amount = _amount(args)
                await quotas.grant(key, amount, window, actor)
                balance = await self._balance(inv, key)
                text = texts.t(
                    locale,
                    "quota.add_done",
                    user=user_name,
                    amount=amount,
                    remaining=balance.remaining,
                )
                return Reply(text, private=False)
            case "reset":
                await quotas.reset(key, window, actor)
                return Reply(texts.t(locale, "quota.reset_done", user=user_name), private=False)
            case "history":
                return Reply(await self._history(inv, key, user_name))
        raise InvalidRequest("unknown_quota_action", action=args.action)

    async def _balance(self, inv: Invocation, key: QuotaKey) -> Balance:
        return await self.s.quotas.balance(
            key, self.s.window(), self.s.settings.quota.default_limit
        )

    def _balance_text(self, inv: Invocation, balance: Balance) -> str:
        if balance.unlimited or (
            self.s.settings.quota.moderators_unlimited
            and (
                inv.is_moderator
                or self.s.is_configured_moderator(inv.user.platform.value, inv.user.id)
            )
        ):
            return texts.t(inv.locale, "quota.unlimited")
        return texts.t(inv.locale, "quota.me", **self._figures(balance))

    def _figures(self, balance: Balance) -> dict[str, object]:
        return {
            "remaining": balance.remaining,
            "limit": balance.limit,
            "used": balance.used,
            "granted": balance.granted,
            "resets": self.s.format_reset(balance.window),
        }

    def _target(self, inv: Invocation, args: QuotaArgs) -> tuple[str, str]:
        if inv.options.get("target_id"):
            target_id = inv.options["target_id"]
            return target_id, inv.options.get("target_name") or target_id
        token = (args.target or "").strip()
        if not token:
            raise InvalidRequest("missing_target")
        mention = _MENTION.match(token)
        if mention:
            return mention.group(1), token
        if _USER_ID.match(token):
            return token, token
        raise InvalidRequest("unknown_user", user=token)

    async def _history(self, inv: Invocation, key: QuotaKey, user_name: str) -> str:
        entries = await self.s.quotas.history(key, HISTORY_LENGTH)
        if not entries:
            return texts.t(inv.locale, "quota.history_empty", user=user_name)
        lines = [
            texts.t(
                inv.locale,
                "quota.history_entry",
                at=entry.at.strftime("%Y-%m-%d %H:%M"),
                kind=entry.kind,
                amount=entry.amount,
                actor=entry.actor or "-",
            )
            for entry in entries
        ]
        return texts.t(inv.locale, "quota.history", user=user_name, entries="\n".join(lines))


def _amount(args: QuotaArgs) -> int:
    if args.amount is None:
        raise InvalidRequest("missing_value", flag=args.action)
    return args.amount
