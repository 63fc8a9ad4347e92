"""The event-log kernel: events, the append-only log, projections, leases, migrations.

Everything else stands on this package and it stands on nothing of the project but
:mod:`monitor.errors`: it knows no pipeline stage and no consumer. Who projects what is
decided by the caller (``monitor.app.wiring``), which hands the projections in.
"""
