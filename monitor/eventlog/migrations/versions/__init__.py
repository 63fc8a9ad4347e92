"""Alembic revisions of the event log, one numbered file each (``0001_initial.py``, …).

Alembic loads them by path (the names are not importable); see :mod:`monitor.eventlog.migrations`.
"""
