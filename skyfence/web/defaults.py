"""Where the web server listens unless told otherwise: known to the CLI without importing it."""

DEFAULT_HOST = "127.0.0.1"  # this machine only: the API is opened to others deliberately
DEFAULT_PORT = 8787
