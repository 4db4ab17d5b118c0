"""Keep database passwords out of messages: mask them in URLs and scrub them from driver errors.

Handles ``user:pw@host``, an empty user (``:pw@host``), passwords that contain ``@`` (the
user part runs to the last ``@``), secrets in query parameters (``?password=...``) and libpq
``key=value`` strings (``host=db password=...``).
"""
from __future__ import annotations

import re
from urllib.parse import unquote

SECRET_KEYS = r"password|passwd|pwd|sslpassword|secret|token|api_?key|access_?key|sslkey"
KEY_VALUE = re.compile(rf"(?i)(?<![\w-])({SECRET_KEYS})(\s*=\s*)('(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^&;\s]*)")
MASK = "***"


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """(scheme://, user info, rest from the @ on) of a URL with a user part, or None. The user info
    runs to the last @ before the query string (a password may contain @), else to the last @."""
    head, sep, rest = url.partition("://")
    query = rest.find("?")
    at = rest.rfind("@", 0, query) if query >= 0 else -1  # an @ in the query string is not the user's
    at = at if at >= 0 else rest.rfind("@")
    if not sep or at < 0:
        return None
    return head + sep, rest[:at], rest[at:]


def normalize_url(url: str) -> str:
    """The URL with ``@`` inside its password percent-encoded, so the driver sees the password and
    the host as written (``u:p@ss@db`` would otherwise connect to host ``ss@db``)."""
    parts = _userinfo(url)
    if parts is None:
        return url
    head, info, rest = parts
    user, colon, password = info.partition(":")
    if "@" not in password or not re.match(r"@[\w.\-\[\]:%]*(?:[/?]|$)", rest):
        return url
    return f"{head}{user}{colon}{password.replace('@', '%40')}{rest}"


def mask_url(url: str) -> str:
    """The URL (or libpq string) with every password replaced by ***."""
    parts = _userinfo(url)
    if parts is not None:
        head, info, rest = parts
        user, colon, _ = info.partition(":")
        if colon:
            url = f"{head}{user}:{MASK}{rest}"
    return KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", url)


def secrets_of(url: str) -> set[str]:
    """Every password-like value in the URL, as written and percent-decoded."""
    found: set[str] = set()
    parts = _userinfo(url)
    if parts is not None:
        _, info, _ = parts
        user, colon, password = info.partition(":")
        if colon:
            found |= {password, unquote(password)}
    for m in KEY_VALUE.finditer(url):
        value = m.group(3).strip("'\"")
        found |= {value, unquote(value)}
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url).password
        if parsed:
            found.add(str(parsed))
    except Exception:  # not a URL SQLAlchemy can parse: the patterns above are all there is
        pass
    return {s for s in found if s and s != MASK}


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's message) with the URL masked and any password in it replaced by ***."""
    text = text.replace(url, mask_url(url))
    for secret in sorted(secrets_of(url), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
        else:  # a very short password: only where it stands alone, not inside every word
            text = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", MASK, text)
    return text
