"""Fault scenarios: the pipeline under crashes, outages and malformed input.

``python -m bench.faults [--quick] [scenario ...]`` runs them against the
embedded broker and Valkey, writes ``bench/faults.json`` and prints a table;
it exits 1 when any scenario fails. Each scenario (one module here) does
something bad to a running pipeline, then checks what the product promises:
nothing lost, nothing counted twice, nothing committed before it is stored.
The figures are compared with the independent oracle of ``tests/oracle.py``.
"""
