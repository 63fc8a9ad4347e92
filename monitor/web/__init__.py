"""The web console and the JSON API (Starlette on uvicorn), with the operators' probes."""
