"""Remote locations: ``ftp://[user[:password]@]host[:port]/path`` split into a :class:`Target`.

A path component holding ``*``, ``?`` or ``[`` is a glob pattern; the same characters
percent-encoded (``%2A``, ``%3F``, ``%5B``) stand for themselves.
"""

from __future__ import annotations

import dataclasses
import glob
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ferroftp.cli.status import UsageError

SCHEMES = ("ftp", "ftpes", "ftps")
MAGIC = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Target:
    """A server (with the credentials the URL gave) and a path on it."""

    scheme: str
    host: str
    port: int | None
    user: str | None
    password: str | None
    #: The remote path, percent-decoded; ``/`` when the URL has none.
    path: str
    #: The path as a glob pattern when it has wildcards (``fnmatch`` syntax), else ``None``.
    pattern: str | None = None

    @property
    def server(self) -> str:
        """The server's URL, without credentials or path."""
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            netloc = f"{netloc}:{self.port}"
        return f"{self.scheme}://{netloc}"

    @property
    def key(self) -> tuple[str, str, int | None, str | None]:
        """What tells one server login from another: scheme, host, port and user."""
        return (self.scheme, self.host, self.port, self.user)

    def at(self, path: str) -> Target:
        """The same server, at another (literal) path."""
        return dataclasses.replace(self, path=path, pattern=None)

    @property
    def name(self) -> str:
        """The last component of the path (``""`` for the root)."""
        return posixpath.basename(self.path.rstrip("/"))


def is_url(text: str) -> bool:
    """Whether ``text`` is meant as a URL (``scheme://...``) rather than a local path."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text) is not None


def parse_url(text: str) -> Target:
    """Splits an FTP URL; raises :class:`UsageError` for anything else.

    FTP URLs have no query or fragment: everything after the host is the path, so ``?`` is a
    wildcard there and ``#`` a character like another (``%3F``, ``%23`` work too)."""
    found = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/]*)(.*)\Z", text, re.S)
    scheme = found.group(1).lower() if found else ""
    if found is None or scheme not in SCHEMES:
        raise UsageError(
            f"not an FTP URL: {text!r} (expected ftp://host/path, ftpes:// or ftps://)"
        )
    userinfo, at, hostport = found.group(2).rpartition("@")
    try:
        parts = urlsplit(f"//{hostport}")
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise UsageError(f"not a valid URL: {text!r} ({e})") from None
    if not host:
        raise UsageError(f"no host in the URL {text!r}")
    user = password = None
    if at:
        name, colon, secret = userinfo.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    raw = found.group(3) or "/"
    pattern = None
    if MAGIC.search(raw):
        pattern = "/".join(_component_pattern(c) for c in raw.split("/"))
    return Target(scheme, host, port, user, password, unquote(raw), pattern)


def _component_pattern(raw: str) -> str:
    """One raw path component as a glob pattern: percent-encoded wildcards stay literal."""
    out = []
    for piece in re.split(r"(%[0-9A-Fa-f]{2})", raw):
        if piece.startswith("%") and len(piece) == 3:
            out.append(glob.escape(unquote(piece)))
        else:
            out.append(piece)
    return "".join(out)
