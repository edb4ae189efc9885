"""Languages of the dashboard: Chinese (zh-CN, the default) and English.

- ``current_language()``: ``?lang=en|zh`` on the request, else the ``lang``
  cookie (set from that parameter by the server), else Chinese.
- ``t(key, lang)``: text from the catalogs; pages add theirs with
  ``register_catalog({"zh": {...}, "en": {...}})`` at import time (keys are
  best prefixed with the page name, e.g. ``"flow.title"``). A missing key
  falls back to Chinese, then to the key itself. ``{name}`` placeholders are
  filled from keyword arguments.
- ``stage_name(stage, lang)``: the six stages (受理 调查 处理 反馈 跟进 总结).
- ``format_number`` / ``format_percent``: thousands separators.
- ``format_datetime`` / ``format_date`` / ``format_time``: epoch seconds in
  the business time zone (``runtime.tz``): zh ``11月24日 09:30``,
  en ``24 Nov 09:30``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from events.contract import STAGE_NAMES_ZH, STAGES

LANGUAGES: Final = ("zh", "en")
DEFAULT_LANGUAGE: Final = "zh"
LANG_PARAM: Final = "lang"
LANG_COOKIE: Final = "lang"

STAGE_NAMES_EN: Final[Mapping[str, str]] = {
    "intake": "Intake",
    "investigation": "Investigation",
    "resolution": "Resolution",
    "feedback": "Feedback",
    "follow_up": "Follow-up",
    "review": "Review",
}

_MONTHS_EN: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_WEEKDAYS_ZH: Final = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WEEKDAYS_EN: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_CATALOGS: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}


def normalise_language(value: object) -> str | None:
    """``zh``, ``zh-CN``, ``zh_cn`` → ``zh``; ``en``, ``en-GB`` → ``en``; else None."""
    if not isinstance(value, str):
        return None
    base = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else None


def current_language() -> str:
    """The language of the current request (query parameter, cookie, default)."""
    from flask import has_request_context, request

    if not has_request_context():
        return DEFAULT_LANGUAGE
    return (
        normalise_language(request.args.get(LANG_PARAM))
        or normalise_language(request.cookies.get(LANG_COOKIE))
        or DEFAULT_LANGUAGE
    )


def html_lang(lang: str) -> str:
    """The HTML ``lang`` attribute: ``zh-CN`` or ``en``."""
    return "zh-CN" if lang == "zh" else "en"


def register_catalog(catalog: Mapping[str, Mapping[str, str]]) -> None:
    """Add texts: ``{"zh": {key: text}, "en": {key: text}}``; later wins per key."""
    for language, texts in catalog.items():
        code = normalise_language(language)
        if code is None:
            raise ValueError(f"unknown language {language!r}; languages are {LANGUAGES}")
        _CATALOGS[code].update(texts)


def t(key: str, lang: str | None = None, /, **values: Any) -> str:
    """The text for ``key`` in ``lang`` (default: the request's language)."""
    language = normalise_language(lang) or (
        current_language() if lang is None else DEFAULT_LANGUAGE
    )
    text = _CATALOGS[language].get(key) or _CATALOGS[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**values) if values else text


def has_text(key: str) -> bool:
    return key in _CATALOGS[DEFAULT_LANGUAGE] or key in _CATALOGS["en"]


def stage_name(stage: str, lang: str) -> str:
    names = STAGE_NAMES_ZH if lang == "zh" else STAGE_NAMES_EN
    return names.get(stage, stage)


def stage_names(lang: str) -> dict[str, str]:
    """All six stages in process order → their names."""
    return {stage: stage_name(stage, lang) for stage in STAGES}


# -- numbers --------------------------------------------------------------------------


def format_number(
    value: float | int | None, lang: str = DEFAULT_LANGUAGE, decimals: int = 0
) -> str:
    """``12345`` → ``12,345`` (both languages group by thousands with a comma);
    None → an em dash."""
    if value is None:
        return "—"
    return f"{value:,.{decimals}f}"


def format_percent(value: float | None, lang: str = DEFAULT_LANGUAGE, decimals: int = 1) -> str:
    """``0.125`` → ``12.5%``."""
    if value is None:
        return "—"
    return f"{value * 100:,.{decimals}f}%"


# -- dates and times ------------------------------------------------------------------


def _local(epoch: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)


def format_time(epoch: float, tz: ZoneInfo) -> str:
    """``09:30``."""
    return _local(epoch, tz).strftime("%H:%M")


def format_datetime(epoch: float, tz: ZoneInfo, lang: str = DEFAULT_LANGUAGE) -> str:
    """zh ``11月24日 09:30``; en ``24 Nov 09:30``."""
    moment = _local(epoch, tz)
    if lang == "zh":
        return f"{moment.month}月{moment.day}日 {moment:%H:%M}"
    return f"{moment.day} {_MONTHS_EN[moment.month - 1]} {moment:%H:%M}"


def format_date(
    value: float | date, tz: ZoneInfo, lang: str = DEFAULT_LANGUAGE, *, weekday: bool = False
) -> str:
    """zh ``2026年11月24日`` (``周二``); en ``24 Nov 2026`` (``Tue``)."""
    day = value if isinstance(value, date) else _local(value, tz).date()
    if lang == "zh":
        text = f"{day.year}年{day.month}月{day.day}日"
        return f"{text} {_WEEKDAYS_ZH[day.weekday()]}" if weekday else text
    text = f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return f"{_WEEKDAYS_EN[day.weekday()]} {text}" if weekday else text


def format_duration(seconds: float, lang: str = DEFAULT_LANGUAGE) -> str:
    """The two largest units: zh ``3天4小时``, ``5分钟``; en ``3 d 4 h``, ``5 min``."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units_zh = (("天", days), ("小时", hours), ("分钟", minutes), ("秒", secs))
    units_en = (("d", days), ("h", hours), ("min", minutes), ("s", secs))
    units = units_zh if lang == "zh" else units_en
    parts = [(unit, n) for unit, n in units if n]
    if not parts:
        parts = [units[-1]]
    if lang == "zh":
        return "".join(f"{n}{unit}" for unit, n in parts[:2])
    return " ".join(f"{n} {unit}" for unit, n in parts[:2])


# -- the shared texts -----------------------------------------------------------------

register_catalog(
    {
        "zh": {
            "app.name": "投诉运营",
            "app.title": "ComplaintOps 投诉运营",
            "nav.home": "首页",
            "nav.wall": "大屏",
            "nav.language": "语言",
            "auth.sign_in": "登录",
            "auth.sign_out": "退出",
            "auth.username": "用户名",
            "auth.password": "密码",
            "auth.sign_in_title": "登录投诉运营看板",
            "auth.wrong_password": "用户名或密码不正确。",  # nosec B105 # a message, not a password
            "auth.too_many": "登录失败次数过多，请 {minutes} 分钟后再试。",
            "auth.form_expired": "表单已过期，请重新登录。",
            "auth.unavailable": "暂时无法登录：数据库未就绪。",
            "auth.forbidden_title": "无权访问",
            "auth.forbidden": "您的角色无权打开此页面。",
            "auth.kiosk_only": "大屏令牌只能打开大屏页面。",
            "auth.back_home": "返回首页",
            "role.leader": "组长",
            "role.manager": "经理",
            "role.admin": "管理员",
            "level.ok": "正常",
            "level.amber": "关注",
            "level.red": "告警",
        },
        "en": {
            "app.name": "ComplaintOps",
            "app.title": "ComplaintOps",
            "nav.home": "Home",
            "nav.wall": "Wall",
            "nav.language": "Language",
            "auth.sign_in": "Sign in",
            "auth.sign_out": "Sign out",
            "auth.username": "Username",
            "auth.password": "Password",
            "auth.sign_in_title": "Sign in to ComplaintOps",
            "auth.wrong_password": "Wrong username or password.",  # nosec B105 # a message, not a password
            "auth.too_many": "Too many failed sign-ins; try again in {minutes} minutes.",
            "auth.form_expired": "The form expired; please sign in again.",
            "auth.unavailable": "Signing in is unavailable: the database is not ready.",
            "auth.forbidden_title": "No access",
            "auth.forbidden": "Your role cannot open this page.",
            "auth.kiosk_only": "A wall-display token opens the wall display only.",
            "auth.back_home": "Back to the home page",
            "role.leader": "Team leader",
            "role.manager": "Manager",
            "role.admin": "Administrator",
            "level.ok": "OK",
            "level.amber": "Watch",
            "level.red": "Alert",
        },
    }
)
