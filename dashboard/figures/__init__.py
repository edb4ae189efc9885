"""Plotly figure builders (pure functions returning figure dicts)."""
