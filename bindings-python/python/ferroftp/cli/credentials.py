"""Who logs in: the user, password and account for a server.

The user comes from the URL, else ``--user``, else ``FERROFTP_USER``, else ``~/.netrc`` (the
host's entry, then ``default``); with none the login is anonymous. The password comes from the
URL, else ``--user USER:PASSWORD``, else ``FERROFTP_PASSWORD`` (unless ``FERROFTP_USER`` names
someone else), else ``~/.netrc`` (an entry for that user, also when the URL named only the
user), else a prompt when stdin is a terminal.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ferroftp.cli.status import UsageError
from ferroftp.cli.urls import Target


@dataclass(frozen=True)
class Login:
    user: str | None
    password: str | None
    account: str | None = None


def netrc_entry(host: str, path: str | None = None) -> tuple[str, str | None, str | None] | None:
    """``(login, password, account)`` of ``host`` in ``~/.netrc`` (or ``path``), if any."""
    path = path or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.exists(path):
        return None
    try:
        found = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    if found is None:
        return None
    login, account, password = found
    return login, password or None, account or None


def resolve(
    target: Target,
    *,
    user_option: str | None,
    env: Mapping[str, str],
    netrc_file: str | None = None,
    prompt: Callable[[str], str | None] | None = None,
) -> Login:
    """The login for ``target``; ``prompt(text)`` asks for a password (``None``: none given)."""
    user, password = target.user, target.password
    if user is None and user_option:
        user, sep, given = user_option.partition(":")
        password = given if sep else None
    env_user = env.get("FERROFTP_USER") or None
    if user is None and env_user is not None:
        user = env_user
    entry = None
    if user is None or password is None:
        entry = netrc_entry(target.host, netrc_file)
    if user is None and entry is not None:
        user = entry[0]
    if user is None:
        return Login(None, None)
    account = entry[2] if entry is not None and entry[0] == user else None
    if password is None and env_user in (None, user) and "FERROFTP_PASSWORD" in env:
        password = env["FERROFTP_PASSWORD"]
    if password is None and entry is not None and entry[0] == user:
        password = entry[1]
    if password is None and prompt is not None:
        password = prompt(f"Password for {user}@{target.host}: ")
    return Login(user, password, account)
