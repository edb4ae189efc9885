"""Errors of the events package."""

from __future__ import annotations


class EventError(Exception):
    """Root of the errors raised by the event core."""


class InvalidEvent(EventError):
    """The event breaks the contract; it goes to the dead-letter topic with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
