"""`python -m skyfence`, the same as the `skyfence` command."""

from skyfence.cli import app

app()
