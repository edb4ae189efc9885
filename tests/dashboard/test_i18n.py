from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from dashboard import i18n
from dashboard.i18n import (
    current_language,
    format_date,
    format_datetime,
    format_duration,
    format_number,
    format_percent,
    normalise_language,
    register_catalog,
    stage_name,
    stage_names,
    t,
)
from events.timeutil import parse_rfc3339

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
MOMENT = parse_rfc3339("2026-11-24T09:30:00+08:00")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh_cn", "zh"),
        ("ZH-Hans", "zh"),
        ("en", "en"),
        ("en-GB", "en"),
        (" en ", "en"),
        ("fr", None),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_normalise_language(raw: object, expected: str | None) -> None:
    assert normalise_language(raw) == expected


def test_language_comes_from_the_query_then_the_cookie_then_chinese() -> None:
    app = Flask(__name__)
    with app.test_request_context("/wall?lang=en"):
        assert current_language() == "en"
    with app.test_request_context("/wall", headers={"Cookie": "lang=en"}):
        assert current_language() == "en"
    with app.test_request_context("/wall?lang=zh", headers={"Cookie": "lang=en"}):
        assert current_language() == "zh"
    with app.test_request_context("/wall?lang=xx", headers={"Cookie": "lang=yy"}):
        assert current_language() == "zh"
    with app.test_request_context("/wall", headers={"Accept-Language": "en-US"}):
        assert current_language() == "zh"
    assert current_language() == "zh"  # outside a request


def test_catalog_lookup_falls_back_to_chinese_then_to_the_key() -> None:
    register_catalog(
        {"zh": {"test.only_zh": "只有中文", "test.both": "两者"}, "en": {"test.both": "both"}}
    )
    assert t("test.both", "en") == "both"
    assert t("test.both", "zh") == "两者"
    assert t("test.only_zh", "en") == "只有中文"
    assert t("test.missing", "en") == "test.missing"


def test_catalog_fills_placeholders() -> None:
    register_catalog({"zh": {"test.count": "共 {n} 件"}, "en": {"test.count": "{n} cases"}})
    assert t("test.count", "zh", n=3) == "共 3 件"
    assert t("test.count", "en", n=3) == "3 cases"


def test_register_catalog_refuses_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        register_catalog({"fr": {"x": "y"}})


def test_shared_texts_exist_in_both_languages() -> None:
    chinese = set(i18n._CATALOGS["zh"])
    english = set(i18n._CATALOGS["en"])
    shared = {
        key
        for key in chinese | english
        if key.split(".")[0] in ("auth", "nav", "role", "app", "wall")
    }
    assert shared <= chinese
    assert shared <= english


def test_stage_names_in_process_order() -> None:
    assert list(stage_names("zh").values()) == ["受理", "调查", "处理", "反馈", "跟进", "总结"]
    assert list(stage_names("en").values()) == [
        "Intake",
        "Investigation",
        "Resolution",
        "Feedback",
        "Follow-up",
        "Review",
    ]
    assert stage_name("unknown", "zh") == "unknown"


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0, 0, "0"),
        (999, 0, "999"),
        (1234, 0, "1,234"),
        (1234567, 0, "1,234,567"),
        (-1234, 0, "-1,234"),
        (1234.5, 1, "1,234.5"),
        (None, 0, "—"),
    ],
)
def test_format_number(value: float | None, decimals: int, expected: str) -> None:
    assert format_number(value, "zh", decimals) == expected
    assert format_number(value, "en", decimals) == expected


def test_format_percent() -> None:
    assert format_percent(0.125, "zh") == "12.5%"
    assert format_percent(1, "en", 0) == "100%"
    assert format_percent(None) == "—"


def test_format_datetime_in_the_business_time_zone() -> None:
    assert format_datetime(MOMENT, SHANGHAI, "zh") == "11月24日 09:30"
    assert format_datetime(MOMENT, SHANGHAI, "en") == "24 Nov 09:30"
    assert format_datetime(MOMENT, LONDON, "en") == "24 Nov 01:30"


def test_format_date() -> None:
    assert format_date(MOMENT, SHANGHAI, "zh") == "2026年11月24日"
    assert format_date(MOMENT, SHANGHAI, "en") == "24 Nov 2026"
    assert format_date(date(2026, 11, 24), SHANGHAI, "zh", weekday=True) == "2026年11月24日 周二"
    assert format_date(date(2026, 11, 24), SHANGHAI, "en", weekday=True) == "Tue 24 Nov 2026"
    # Just after midnight in Shanghai is still the previous day in London.
    late = parse_rfc3339("2026-11-25T00:30:00+08:00")
    assert format_date(late, SHANGHAI, "en") == "25 Nov 2026"
    assert format_date(late, LONDON, "en") == "24 Nov 2026"


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (0, "0秒", "0 s"),
        (59, "59秒", "59 s"),
        (300, "5分钟", "5 min"),
        (3 * 86400 + 4 * 3600 + 5, "3天4小时", "3 d 4 h"),
        (-5, "0秒", "0 s"),
    ],
)
def test_format_duration(seconds: float, zh: str, en: str) -> None:
    assert format_duration(seconds, "zh") == zh
    assert format_duration(seconds, "en") == en
