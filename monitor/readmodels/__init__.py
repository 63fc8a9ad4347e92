"""The pipeline's read models: tables folded from the log, their folds, and their queries."""
