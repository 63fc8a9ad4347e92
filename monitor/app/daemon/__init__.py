"""``monitor run``: the long-running service, split by responsibility (see ``service``)."""
