"""The application shell: what runs the pipeline (run-once, the daemon, status, metrics).

The only package besides the command line that imports both ``monitor`` and ``alerts``;
:mod:`monitor.app.wiring` names every projection and opens a migrated log.
"""
