"""Errors of the store package."""

from __future__ import annotations


class StoreError(Exception):
    """Root of the errors raised by the SQL store."""


class UnsupportedDatabase(StoreError, ValueError):
    """The database URL names a database the store does not support."""


class NaiveDatetime(StoreError, ValueError):
    """A datetime without a time zone was given where an instant is needed."""
