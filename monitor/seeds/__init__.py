"""The seed-files stage: scan folders, read each format, ingest into the log."""
