"""Where a redirect or a back link may lead: a path on this site, never another host.

Every target that comes from a request (`next=`, a form's `back`, the Referer)
goes through `local_path`. A browser reads `//host`, `/\\host` and, once it has
dropped tabs and newlines, `/\\t/host` as another host; a proxy or a second
decoding may turn `/%2F%2Fhost` into `//host`. So a target must be a bare
path: starting with one `/`, no scheme, no host, no control characters,
neither as given nor once percent-decoded.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

LONGEST = 2000  # characters; a real page's address is far shorter


def _bare_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith(("//", "/\\")):
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def local_path(target: str | None, default: str = "/") -> str:
    """`target` when it is a path on this site, else `default`."""
    if not target or len(target) > LONGEST:
        return default
    if _bare_path(target) and _bare_path(unquote(target)):
        return target
    return default


def referer_path(referer: str | None, scheme: str, netloc: str, default: str = "/") -> str:
    """The path of a Referer from this very site (same scheme and host), else `default`."""
    if not referer or len(referer) > LONGEST:
        return default
    parts = urlsplit(referer)
    if (parts.scheme, parts.netloc) != (scheme, netloc):
        return default
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return local_path(path, default)
