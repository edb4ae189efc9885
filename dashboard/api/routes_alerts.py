"""``GET /api/v1/alerts`` (api-v1.md) and the acknowledge link of alert emails (``/alerts/ack``).

``alerts_view`` builds the API's answer; the wall's ticker and the alerts
page use it too. The acknowledge link needs no sign-in: its signed token
(``alerts.tokens``) is the permission, for the alerts of one email only,
until it expires. Following the link shows what it acknowledges; the
acknowledgement itself is a POST, so mail scanners that open links do not
acknowledge anything.
"""

from __future__ import annotations

import html
import time
from typing import Any, Final

from flask import Blueprint, Response, current_app, jsonify, request
from flask.sansio.app import App
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts.lifecycle import STATE_FILTERS, UnknownAlert, acknowledge, list_alerts
from alerts.models import Alert
from alerts.tokens import InvalidToken, verify
from complaintops.runtime import Runtime
from dashboard.api.errors import ApiError
from dashboard.api.params import choice_param, optional_id_param
from store.types import to_epoch

ACK_PATH: Final = "/alerts/ack"


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["complaintops"]
    return runtime


def alert_row(runtime: Runtime, alert: Alert) -> dict[str, Any]:
    """One alert as the API shows it."""
    return {
        "id": str(alert.id),
        "rule": alert.rule,
        "severity": alert.severity,
        "state": alert.state,
        "case_id": alert.case_id,
        "team_id": alert.team_id,
        "handler_id": alert.handler_id,
        "since": runtime.query.format_time(to_epoch(alert.started_at)),
    }


def alerts_view(runtime: Runtime, state: str = "active", team: str | None = None) -> dict[str, Any]:
    """``{"alerts": [...]}`` newest first; ``state``: active (with acknowledged), resolved, all.

    Every alert for the filter: the API has no pagination (api-v1.md).
    """
    with Session(runtime.engine) as session:
        rows = list_alerts(session, state=state, team=team, limit=None)
        return {"alerts": [alert_row(runtime, alert) for alert in rows]}


def register(bp: Blueprint) -> None:
    @bp.get("/alerts")
    def alerts() -> Any:
        state = choice_param("state", "active", STATE_FILTERS)
        team = optional_id_param("team")
        try:
            return jsonify(alerts_view(_runtime(), state=state, team=team))
        except SQLAlchemyError as error:
            raise ApiError(503, f"alerts unavailable: {error.__class__.__name__}") from None

    bp.record_once(lambda state: install_ack_routes(state.app))


# -- the acknowledge link -------------------------------------------------------------------


def install_ack_routes(app: App) -> None:
    """Add ``/alerts/ack`` to the web server (once)."""
    if "alerts_ack" not in app.blueprints:
        app.register_blueprint(ack_blueprint())


def ack_blueprint() -> Blueprint:
    blueprint = Blueprint("alerts_ack", __name__)

    @blueprint.get(ACK_PATH)
    def confirm() -> Response:
        return _ack(request.args.get("token", ""), commit=False)

    @blueprint.post(ACK_PATH)
    def acknowledge_now() -> Response:
        return _ack(request.form.get("token", ""), commit=True)

    return blueprint


def _page(title: str, body: str, status: int = 200) -> Response:
    document = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    response = Response(document, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _ack(token: str, *, commit: bool) -> Response:
    runtime = _runtime()
    secret = runtime.settings.secret_key
    now = time.time()
    if not secret:
        return _page("无法确认 Cannot acknowledge", "<p>No secret key is configured.</p>", 503)
    try:
        grant = verify(secret, token, now)
    except InvalidToken as error:
        return _page(
            "链接无效 Invalid link",
            f"<p>此确认链接无效或已过期。This acknowledge link is not valid: {html.escape(str(error))}."
            f'</p><p><a href="{html.escape(runtime.settings.dashboard_url)}/alerts">告警 Alerts</a></p>',
            400,
        )
    try:
        with Session(runtime.engine) as session, session.begin():
            if commit:
                changed = acknowledge(session, list(grant.alert_ids), grant.recipient, "email", now)
                changed_ids = {a.id for a in changed}
            else:
                changed_ids = set()
            alerts = list(
                session.query(Alert).filter(Alert.id.in_(grant.alert_ids)).order_by(Alert.id)
            )
            items = "".join(_item(alert, alert.id in changed_ids) for alert in alerts)
    except UnknownAlert as error:
        return _page("链接无效 Invalid link", f"<p>{html.escape(str(error))}</p>", 404)
    who = html.escape(grant.recipient)
    if commit:
        return _page(
            "已确认 Acknowledged",
            f"<p>以 {who} 的名义确认。Acknowledged as {who}.</p><ul>{items}</ul>"
            "<p>确认后不再重复提醒，也不再升级。Acknowledged alerts are neither repeated nor "
            "escalated.</p>",
        )
    return _page(
        "确认告警 Acknowledge alerts",
        f"<ul>{items}</ul>"
        f'<form method="post" action="{ACK_PATH}">'
        f'<input type="hidden" name="token" value="{html.escape(token)}">'
        f'<button type="submit">确认（{who}）Acknowledge as {who}</button></form>',
    )


def _item(alert: Alert, changed: bool) -> str:
    labels = " ".join(
        html.escape(value) for value in (alert.case_id, alert.team_id, alert.handler_id) if value
    )
    state = "已确认 acknowledged now" if changed else html.escape(alert.state)
    return f"<li>#{alert.id} {html.escape(alert.rule)} {labels} — {state}</li>"
