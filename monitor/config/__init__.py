"""Configuration: ``config.toml`` into typed, validated settings; durations, schedules, secrets."""
