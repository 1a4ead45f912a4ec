"""The connection options, made from the core's settings table (``ferroftp._native.SETTINGS``).

Each setting becomes ``--name-with-dashes``, read by its kind, with the core's doc as its help and
the core's default shown; an option left out is not passed, so the core's default applies. A few
shorthands of this command stand for one value of a setting (``--insecure``, ``--passive``, ...);
they are checked against the table too. A setting of a kind this module cannot read fails the
command's tests (and the command's start) rather than being left out.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from typing import Any

from ferroftp._native import SETTINGS

#: The settings, by name.
BY_NAME: dict[str, dict[str, Any]] = {row["name"]: row for row in SETTINGS}


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _bytes(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kmg]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a byte count (such as 65536 or 1M): {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _path(text: str) -> str:
    return os.path.expanduser(text)


#: How a setting of each kind is read from the command line: (conversion, metavar, help note).
KINDS: dict[str, tuple[Callable[[str], Any], str, str]] = {
    "seconds": (_seconds, "SECONDS", ""),
    "count": (_count, "N", ""),
    "bytes": (_bytes, "BYTES", " (K, M, G: times 1024)"),
    "path": (_path, "FILE", ""),
    "text": (str, "TEXT", ""),
}
#: Kinds read by an action of their own rather than a conversion.
SPECIAL_KINDS = ("flag", "choice")

#: Shorthands of this command: (option, setting, value, help).
SHORTHANDS: tuple[tuple[str, str, Any, str], ...] = (
    ("--insecure", "verify", False, "same as --no-verify: for test servers only"),
    ("--passive", "data_mode", "pasv", "same as --data-mode pasv"),
    ("--epsv", "data_mode", "epsv", "same as --data-mode epsv"),
    ("--active", "data_mode", "active", "same as --data-mode active (the server connects back)"),
)


def option(name: str) -> str:
    """The command-line option of the setting ``name``."""
    return "--" + name.replace("_", "-")


def _default(row: dict[str, Any]) -> str:
    value = row["default"]
    if value is None:
        return ""
    if row["kind"] == "flag":
        return " (default: on)" if value else " (default: off)"
    return f" (default: {value})"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Adds one option per setting of the core, and the shorthands, to ``parser``."""
    group = parser.add_argument_group("connection options (the library's settings)")
    for row in SETTINGS:
        name, kind = row["name"], row["kind"]
        text = name_options(row["doc"].rstrip("."))
        if kind == "flag":
            group.add_argument(
                option(name),
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=text + _default(row),
            )
        elif kind == "choice":
            group.add_argument(
                option(name),
                dest=name,
                choices=list(row["choices"]),
                default=None,
                help=text + _default(row),
            )
        elif kind in KINDS:
            convert, metavar, note = KINDS[kind]
            group.add_argument(
                option(name),
                dest=name,
                type=convert,
                metavar=metavar,
                help=text + note + _default(row),
            )
        else:
            raise RuntimeError(f"the setting {name} is of a kind this command cannot read: {kind}")
    for flag, name, value, text in SHORTHANDS:
        found = BY_NAME.get(name)
        if found is None or (found["choices"] is not None and value not in found["choices"]):
            raise RuntimeError(f"{flag} stands for {name}={value!r}, which the core does not have")
        group.add_argument(flag, dest=name, action="store_const", const=value, help=text)


def chosen(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, as keyword options of ``ferroftp.Pool``."""
    return {name: getattr(args, name) for name in BY_NAME if getattr(args, name, None) is not None}


def name_options(text: str, *, leading: bool = False) -> str:
    """``text`` (a library message) with the library's option names replaced by this command's
    options: names with an underscore and ``name=value`` forms anywhere (``ca_file``,
    ``verify=false``), and with ``leading`` also a plain name opening the text (``timeout must
    be ...``), which elsewhere may just be a word."""
    names = {name: option(name) for name in BY_NAME if "_" in name}
    names.update({f"{name}={str(value).lower()}": flag for flag, name, value, _ in SHORTHANDS})
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w=-])", names[name], text)
    if leading:
        first = re.match(r"[a-z_]+", text)
        if first and first.group(0) in BY_NAME:
            text = option(first.group(0)) + text[first.end() :]
    return text


#: Parallel sessions when a command moves or lists several files, unless ``--jobs`` says.
DEFAULT_JOBS = 4


def _jobs(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def add_jobs(parser: argparse.ArgumentParser, what: str) -> None:
    """Adds ``-j/--jobs N`` (parallel sessions) to a command that moves or lists several files."""
    parser.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"{what} (default: {DEFAULT_JOBS})",
    )
