"""Structured logs: one valid JSON object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest

from complaintops.logging_json import JsonFormatter, configure


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("complaintops.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_level_logger_and_message(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("batch stored: %d events", 42)
    logger.warning("案件 %s 逾期", "C-2026-0001")

    first, second = lines(stream)
    assert first["level"] == "INFO"
    assert first["logger"] == "complaintops.test.json"
    assert first["message"] == "batch stored: 42 events"
    assert second["level"] == "WARNING"
    assert second["message"] == "案件 C-2026-0001 逾期"
    assert "案件" in stream.getvalue()  # UTF-8 kept, not \\u escapes
    assert datetime.fromisoformat(str(first["ts"])).utcoffset() is not None


def test_extra_fields_are_top_level_keys(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info(
        "batch",
        extra={"group": "complaintops-metrics", "lag": {"0": 12}, "applied": 7, "when": object()},
    )

    (record,) = lines(stream)
    assert record["group"] == "complaintops-metrics"
    assert record["lag"] == {"0": 12}
    assert record["applied"] == 7
    assert str(record["when"]).startswith("<object object")
    for internal in ("args", "msg", "levelno", "pathname", "exc_text"):
        assert internal not in record


def test_extra_fields_do_not_replace_the_standard_ones(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("real message", extra={"level": "fake", "logger": "fake"})
    (record,) = lines(stream)
    assert record["level"] == "INFO"
    assert record["logger"] == "complaintops.test.json"


def test_exceptions_stay_inside_the_one_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise ValueError("bad event\nsecond line")
    except ValueError:
        logger.exception("decoding failed")

    assert len(stream.getvalue().splitlines()) == 1
    (record,) = lines(stream)
    assert record["level"] == "ERROR"
    assert "ValueError: bad event" in str(record["exc_info"])


def test_configure_installs_one_root_handler_of_the_chosen_format() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        configure(logging.INFO, "json", stream)
        configure(logging.INFO, "json", stream)
        assert len(root.handlers) == 1
        logging.getLogger("complaintops.x").info("hello")
        logging.getLogger("complaintops.x").debug("hidden")
        assert [line["message"] for line in lines(stream)] == ["hello"]

        text = io.StringIO()
        configure(logging.DEBUG, "text", text)
        logging.getLogger("complaintops.x").debug("plain")
        assert text.getvalue().rstrip().endswith("DEBUG complaintops.x: plain")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure(logging.INFO, "xml")
