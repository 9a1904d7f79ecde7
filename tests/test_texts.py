"""The catalogs stay in step, every key the code raises exists, and ``t`` never crashes users."""

from __future__ import annotations

import logging

import pytest

from bot import texts
from bot.errors import ErrorCategory
from bot.texts import CATALOGS, KEYS, placeholders, resolve_locale, t

# Keys other modules raise or render; removing one breaks them.
REQUIRED: dict[str, set[str]] = {
    "empty_prompt": set(),
    "prompt_too_long": {"limit", "length"},
    "unknown_model": {"model", "allowed"},
    "bad_seconds": {"seconds", "model", "allowed"},
    "bad_orientation": {"orientation", "model", "allowed"},
    "unknown_orientation": {"orientation", "allowed"},
    "image_not_supported": {"provider"},
    "image_needs_url": {"provider"},
    "image_needs_file": {"provider"},
    "image_unreadable": set(),
    "image_too_large": set(),
    "remix_not_supported": {"provider"},
    "unknown_provider": {"provider", "allowed"},
    "ambiguous_provider": {"model", "allowed"},
    "bad_number": {"flag", "value"},
    "unknown_flag": {"flag"},
    "missing_value": {"flag"},
    "unknown_quota_action": {"action"},
    "not_a_job": set(),
    "quota_exceeded": {"remaining", "cost", "resets"},
    "too_many_jobs": {"limit"},
    "not_moderator": set(),
    "unknown_user": {"user"},
    "missing_target": set(),
    "no_providers": set(),
    "shutting_down": set(),
    "unknown_command": {"command"},
    "failed.auth": set(),
    "failed.balance": set(),
    "failed.model_unavailable": {"model"},
    "failed.rate_limited": set(),
    "failed.bad_request": {"message"},
    "failed.content_policy": {"message"},
    "failed.transient": {"message"},
    "failed.generation_failed": {"message"},
    "failed.expired": set(),
    "failed.timeout": {"minutes"},
    "refunded": {"cost"},
    "not_refunded": set(),
    "task_id": {"task_id"},
    "unified_remix_note": set(),
    "phase.queued": {"position"},
    "phase.submitting": set(),
    "phase.generating": set(),
    "phase.downloading": set(),
    "phase.fitting": set(),
    "phase.uploading": set(),
    "phase.done": set(),
    "phase.failed": {"reason"},
    "status.elapsed": {"elapsed"},
    "status.eta": {"eta"},
    "caption": {"prompt", "model", "seconds", "remaining"},
    "caption_unlimited": {"prompt", "model", "seconds"},
    "oversize_link": {"url", "expires", "limit_mb"},
    "oversize_no_link": {"limit_mb"},
    "button.remix": set(),
    "button.again": set(),
    "remix_prompt": set(),
    "quota.me": {"remaining", "limit", "used", "granted", "resets"},
    "quota.unlimited": set(),
    "quota.show": {"user", "remaining", "limit", "used", "granted", "resets"},
    "quota.set_done": {"user", "limit"},
    "quota.add_done": {"user", "amount", "remaining"},
    "quota.reset_done": {"user"},
    "quota.default_done": {"limit"},
    "quota.history": {"user", "entries"},
    "quota.history_empty": {"user"},
    "quota.history_entry": {"at", "kind", "amount", "actor"},
    "help": set(),
    "help.models": {"models"},
    "accepted": {"job"},
}


def test_both_catalogs_have_the_same_keys() -> None:
    assert set(CATALOGS["en"]) == set(CATALOGS["zh"]) == KEYS


@pytest.mark.parametrize("key", sorted(KEYS))
def test_placeholders_match_between_languages(key: str) -> None:
    assert placeholders(CATALOGS["en"][key]) == placeholders(CATALOGS["zh"][key])


@pytest.mark.parametrize(("key", "names"), sorted(REQUIRED.items()))
def test_required_key_has_exactly_its_placeholders(key: str, names: set[str]) -> None:
    assert placeholders(CATALOGS["en"][key]) == names


@pytest.mark.parametrize("category", list(ErrorCategory))
def test_every_error_category_has_a_failure_text(category: ErrorCategory) -> None:
    assert f"failed.{category.value}" in KEYS


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_help_is_complete_and_short(locale: str) -> None:
    rendered = t(locale, "help") + "\n" + t(locale, "help.models", models="sora-2, sora-2-pro")
    assert len(rendered) < 1500
    for needle in ("/sora --model sora-2-pro --seconds 12 --landscape", "/quota set", "--"):
        assert needle in rendered
    assert "sora-2, sora-2-pro" in rendered


def test_discord_descriptions_fit_100_chars() -> None:
    for catalog in CATALOGS.values():
        for key in KEYS:
            if key.startswith(("command.", "option.")):
                assert 1 <= len(catalog[key]) <= 100, key


def test_chinese_texts_are_chinese() -> None:
    for key, text in CATALOGS["zh"].items():
        if key.startswith(("button.", "phase.", "quota.", "failed.")) and text.strip():
            assert any("\u4e00" <= ch <= "\u9fff" for ch in text), key


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh_TW", "zh"),
        ("zh-hans", "zh"),
        ("ZH-Hant-HK", "zh"),
        ("zh_CN.UTF-8", "zh"),
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB.UTF-8", "en"),
    ],
)
def test_resolve_locale(tag: str, expected: str) -> None:
    assert resolve_locale(tag) == expected
    assert resolve_locale(tag, "zh") == expected


@pytest.mark.parametrize("tag", [None, "", "fr", "C", "pt-BR"])
def test_unknown_locale_takes_the_default(tag: str | None) -> None:
    assert resolve_locale(tag) == "en"
    assert resolve_locale(tag, "zh") == "zh"
    assert resolve_locale(tag, "zh-CN") == "zh"
    assert resolve_locale(tag, "klingon") == "en"


def test_t_fills_placeholders_in_both_languages() -> None:
    assert t("en", "too_many_jobs", limit=2).startswith("You already have 2 videos")
    assert "2 个视频" in t("zh-CN", "too_many_jobs", limit=2)


def test_values_with_braces_are_not_reformatted() -> None:
    assert "{limit}" in t("en", "unknown_user", user="{limit}")


def test_missing_key_or_param_raises_under_pytest() -> None:
    with pytest.raises(KeyError):
        t("en", "no.such.key")
    with pytest.raises(KeyError):
        t("zh", "too_many_jobs")


def test_outside_tests_a_missing_text_falls_back_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.setitem(
        texts.CATALOGS, "zh", {k: v for k, v in CATALOGS["zh"].items() if k != "not_moderator"}
    )
    with caplog.at_level(logging.ERROR, logger="bot.texts"):
        assert t("zh", "not_moderator") == CATALOGS["en"]["not_moderator"]
        assert t("en", "no.such.key") == "no.such.key"
        assert t("en", "too_many_jobs").startswith("You already have {limit}")
    assert len(caplog.records) == 3
