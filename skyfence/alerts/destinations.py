"""How a delivery URL may be shown in logs, metrics and on the map.

Webhook URLs often carry their secret (Discord's and Slack's are the token itself, in the path;
others put a key in the query), while metrics and the status API are read without a token. So a
destination is shown by its scheme, host and port, and a digest of the whole URL that tells two
destinations on one host apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

from skyfence.errors import InputError


def destination_name(url: str) -> str:
    """`https://discord.com/…3f9a2c`: the URL without its path, query or credentials."""
    if "://" not in url:  # an outbox key that is a digest already (`apprise:…`): no secret
        return url
    digest = hashlib.sha256(url.encode()).hexdigest()[:6]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"…{digest}"
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    where = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{where}/…{digest}" if parts.scheme else f"…{digest}"


def url_parts(url: str, schemes: Sequence[str], what: str, shape: str) -> SplitResult:
    """The parts of a destination URL with one of `schemes`, a host and a port from 1 to 65535,
    or an InputError naming `what` and the `shape` expected: checked when `watch` starts, since
    a bad URL found at the first event would never deliver anything."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise InputError(f"{what} {url!r}: expected {shape}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise InputError(f"{what} {url!r}: the port is not a number from 1 to 65535")
    return parts
