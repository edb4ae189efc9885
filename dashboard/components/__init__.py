"""Shared pieces of every page: the shell (navigation), tiles, badges, theme.

- ``components.runtime.current_runtime()``: the Runtime inside a callback or layout.
- ``components.tile.tile(label, value, metric=..., level=...)``: a figure tile.
- ``components.badge.badge(text, level)``: a small coloured label.
- ``components.theme``: colours, ``level_class``, ``figure_layout`` for Plotly.
- ``components.page``: ``page_header(title, subtitle)``, ``panel(title, body)``, ``forbidden()``.
"""
