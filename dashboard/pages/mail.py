"""Sent mail (/mail, administrators): the alert email outbox with each message's
delivery state, and the messages the demo's mail catcher holds (``<data dir>/mail``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final

import dash
from dash import Input, Output, callback, dcc, html
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts.demo import mail_dir
from alerts.mailcatcher import mail_files, read_message
from alerts.outbox import recent
from complaintops.runtime import Runtime
from dashboard.components.page import page_header, panel
from dashboard.components.runtime import current_runtime
from dashboard.desk_layout import (
    CELL_STYLE,
    ERROR_STYLE,
    HEAD_STYLE,
    PAGE_STYLE,
    TABLE_STYLE,
)
from dashboard.i18n import (
    current_language,
    format_datetime,
    normalise_language,
    register_catalog,
    t,
)
from store.types import to_epoch

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/mail",
    name="Mail",
    title="邮件 Mail · ComplaintOps",
    nav_label={"zh": "邮件", "en": "Mail"},
    order=90,
    min_role="admin",
)

OUTBOX_LIMIT: Final = 200
CAUGHT_LIMIT: Final = 100
REFRESH_SECONDS: Final = 30

register_catalog(
    {
        "zh": {
            "mail.title": "告警邮件",
            "mail.subtitle": "发件箱中每封告警邮件的投递状态，以及演示邮件收集器收到的邮件",
            "mail.outbox": "发件箱",
            "mail.caught": "演示邮件收集器",
            "mail.caught_none": "{folder} 中没有邮件。",
            "mail.outbox_none": "发件箱为空。",
            "mail.col.id": "编号",
            "mail.col.state": "状态",
            "mail.col.kind": "类型",
            "mail.col.created": "生成",
            "mail.col.sent": "发出",
            "mail.col.attempts": "尝试",
            "mail.col.to": "收件人",
            "mail.col.subject": "主题",
            "mail.col.error": "错误",
            "mail.col.received": "收到",
            "mail.state.pending": "待发送",
            "mail.state.sent": "已发送",
            "mail.state.failed": "失败",
            "mail.preview": "查看邮件",
            "mail.unavailable": "发件箱暂不可用（{reason}）。",
        },
        "en": {
            "mail.title": "Alert mail",
            "mail.subtitle": "Each alert email of the outbox and its delivery, and the mail the demo's catcher holds",
            "mail.outbox": "Outbox",
            "mail.caught": "Demo mail catcher",
            "mail.caught_none": "No mail in {folder}.",
            "mail.outbox_none": "The outbox is empty.",
            "mail.col.id": "ID",
            "mail.col.state": "State",
            "mail.col.kind": "Kind",
            "mail.col.created": "Queued",
            "mail.col.sent": "Sent",
            "mail.col.attempts": "Attempts",
            "mail.col.to": "To",
            "mail.col.subject": "Subject",
            "mail.col.error": "Error",
            "mail.col.received": "Received",
            "mail.state.pending": "Waiting",
            "mail.state.sent": "Sent",
            "mail.state.failed": "Failed",
            "mail.preview": "Read a message",
            "mail.unavailable": "The outbox is unavailable ({reason}).",
        },
    }
)


# -- data (plain functions) -----------------------------------------------------------------


def outbox_rows(runtime: Runtime, lang: str, limit: int = OUTBOX_LIMIT) -> list[dict[str, Any]]:
    with Session(runtime.engine) as session:
        return [
            {
                "id": row.id,
                "state": t(f"mail.state.{row.state}", lang),
                "kind": row.kind,
                "created": format_datetime(to_epoch(row.created_at), runtime.tz, lang),
                "sent": format_datetime(to_epoch(row.sent_at), runtime.tz, lang)
                if row.sent_at
                else "",
                "attempts": row.attempts,
                "to": ", ".join(json.loads(row.recipients)),
                "subject": row.subject,
                "error": row.last_error or "",
            }
            for row in recent(session, limit)
        ]


def caught_folder(runtime: Runtime) -> Path:
    return mail_dir(runtime.settings.data_dir.expanduser().resolve())


def caught_rows(folder: Path, limit: int = CAUGHT_LIMIT) -> list[dict[str, str]]:
    """The newest caught messages first: file name, when, to, subject."""
    rows = []
    for path in reversed(mail_files(folder)[-limit:]):
        message = read_message(path)
        rows.append(
            {
                "file": path.name,
                "received": path.name[:15].replace("T", " "),
                "to": str(message.get("To", "")),
                "subject": str(message.get("Subject", "")),
            }
        )
    return rows


def message_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    body = str(part.get_content()) if part is not None else ""
    headers = "\n".join(
        f"{name}: {message.get(name, '')}"
        for name in ("Subject", "From", "To", "Date", "Message-ID")
    )
    return f"{headers}\n\n{body}"


def preview(folder: Path, name: str | None) -> str:
    """The plain text of one caught message; only files the folder lists can be read."""
    if not name:
        return ""
    known = {path.name: path for path in mail_files(folder)}
    path = known.get(name)
    return message_text(read_message(path)) if path else ""


def _table(columns: Sequence[str], rows: Sequence[dict[str, Any]], lang: str, table_id: str) -> Any:
    return html.Table(
        [
            html.Thead(
                html.Tr([html.Th(t(f"mail.col.{c}", lang), style=HEAD_STYLE) for c in columns])
            ),
            html.Tbody(
                [html.Tr([html.Td(row[c], style=CELL_STYLE) for c in columns]) for row in rows]
            ),
        ],
        id=table_id,
        style=TABLE_STYLE,
    )


def outbox_table(rows: Sequence[dict[str, Any]], lang: str) -> Any:
    if not rows:
        return html.P(t("mail.outbox_none", lang))
    columns = ("id", "state", "kind", "created", "sent", "attempts", "to", "subject", "error")
    return _table(columns, rows, lang, "mail-outbox-table")


def caught_table(rows: Sequence[dict[str, Any]], folder: Path, lang: str) -> Any:
    if not rows:
        return html.P(t("mail.caught_none", lang, folder=str(folder)))
    return _table(("received", "to", "subject"), rows, lang, "mail-caught-table")


# -- layout and callbacks ---------------------------------------------------------------------


def layout(lang: str | None = None, **_: Any) -> Any:
    language = normalise_language(lang) or current_language()
    return html.Div(
        [
            page_header(t("mail.title", language), t("mail.subtitle", language)),
            html.Div(id="mail-error", role="alert"),
            panel(t("mail.outbox", language), html.Div(id="mail-outbox")),
            panel(
                t("mail.caught", language),
                [
                    html.Div(id="mail-caught"),
                    dcc.Dropdown(
                        id="mail-pick", placeholder=t("mail.preview", language), options=[]
                    ),
                    html.Pre(
                        id="mail-preview",
                        style={"whiteSpace": "pre-wrap", "maxHeight": "480px", "overflow": "auto"},
                    ),
                ],
            ),
            dcc.Interval(id="mail-refresh", interval=REFRESH_SECONDS * 1000),
        ],
        className="co-page desk-page",
        id="mail-page",
        style=PAGE_STYLE,
    )


@callback(
    Output("mail-outbox", "children"),
    Output("mail-caught", "children"),
    Output("mail-pick", "options"),
    Output("mail-error", "children"),
    Input("mail-refresh", "n_intervals"),
)
def refresh(_ticks: Any) -> tuple[Any, ...]:
    lang = current_language()
    runtime = current_runtime()
    folder = caught_folder(runtime)
    caught = caught_rows(folder)
    options = [{"label": f"{r['received']} {r['subject']}", "value": r["file"]} for r in caught]
    try:
        outbox = outbox_table(outbox_rows(runtime, lang), lang)
        error = None
    except SQLAlchemyError as exc:
        log.warning("mail page: outbox unavailable: %s", exc)
        outbox = dash.no_update
        error = html.P(
            t("mail.unavailable", lang, reason=type(exc).__name__),
            className="desk-error",
            style=ERROR_STYLE,
        )
    return outbox, caught_table(caught, folder, lang), options, error


@callback(Output("mail-preview", "children"), Input("mail-pick", "value"))
def show(name: str | None) -> str:
    return preview(caught_folder(current_runtime()), name)
