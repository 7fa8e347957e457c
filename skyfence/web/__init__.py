"""Web UI and HTTP API of skyfence."""
