"""The command line: ``ferroftp [OPTIONS] COMMAND [ARGS]``, options anywhere on the line.

Each command has a parser of its own holding the common options (``-v``, ``-q``, ``--user``, the
connection options); the command is the first word that is not an option or an option's value,
and everything else on the line (before it too) goes to that command's parser, which reads
options and arguments in any order (``parse_intermixed_args``). Bad usage raises
:class:`~ferroftp.cli.status.UsageError` with one line of text.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

import ferroftp
from ferroftp.cli import files, listing, manage, mirror
from ferroftp.cli.context import Context
from ferroftp.cli.options import add_connection_options
from ferroftp.cli.status import EXIT_STATUSES, UsageError


@dataclass(frozen=True)
class Command:
    name: str
    #: The arguments, for the usage line.
    synopsis: str
    summary: str
    examples: tuple[str, ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context, argparse.Namespace], int]


COMMANDS = (
    Command(
        "ls",
        "[-l] [-R] [--json] URL...",
        "list remote directories or files",
        (
            "ferroftp ls -l ftp://ftp.example.org/pub/",
            "ferroftp ls -R --json ftp://user@host/data | jq -r 'select(.type==\"file\").path'",
        ),
        listing.add_ls_arguments,
        listing.run_ls,
    ),
    Command(
        "get",
        "[-c] [-j N] URL... [DEST | -]",
        "download files (wildcards; - writes to stdout)",
        (
            "ferroftp get ftp://ftp.example.org/pub/big.iso",
            "ferroftp get --jobs 8 'ftp://user@host/reports/2024-*.csv' reports/",
            "ferroftp get ftp://host/pub/big.iso - | sha256sum",
        ),
        files.add_get_arguments,
        files.run_get,
    ),
    Command(
        "put",
        "[-c] [-j N] LOCAL... URL | put - URL",
        "upload files (wildcards; - reads stdin)",
        (
            "ferroftp put notes.txt ftp://user@host/inbox/",
            "ferroftp put --jobs 4 '*.log' ftp://user@host/logs/",
            "tar cz dir | ferroftp put - ftp://user@host/backup/dir.tar.gz",
        ),
        files.add_put_arguments,
        files.run_put,
    ),
    Command(
        "cat",
        "URL...",
        "write remote files to stdout",
        ("ferroftp cat ftp://host/pub/README | less",),
        files.add_cat_arguments,
        files.run_cat,
    ),
    Command(
        "mirror",
        "[--delete] [--dry-run] [--exclude GLOB] [--include GLOB] [-j N] URL DIR | DIR URL",
        "copy a directory tree down (URL DIR) or up (DIR URL)",
        (
            "ferroftp mirror --jobs 8 ftp://host/pub ./pub",
            "ferroftp mirror --delete --exclude '*.tmp' ./site ftp://user@host/www",
            "ferroftp mirror --delete --dry-run ./site ftp://user@host/www",
        ),
        mirror.add_mirror_arguments,
        mirror.run_mirror,
    ),
    Command(
        "rm",
        "[-r] [-f] URL...",
        "remove remote files (-r: directories too)",
        ("ferroftp rm 'ftp://user@host/inbox/*.done'",),
        manage.add_rm_arguments,
        manage.run_rm,
    ),
    Command(
        "mkdir",
        "[-p] URL...",
        "make remote directories",
        ("ferroftp mkdir -p ftp://user@host/a/b/c",),
        manage.add_mkdir_arguments,
        manage.run_mkdir,
    ),
    Command(
        "rmdir",
        "[-r] URL...",
        "remove remote directories (-r: with what they hold)",
        ("ferroftp rmdir -r ftp://user@host/old",),
        manage.add_rmdir_arguments,
        manage.run_rmdir,
    ),
    Command(
        "mv",
        "URL... DEST",
        "rename or move remote files and directories",
        (
            "ferroftp mv ftp://user@host/inbox/a.txt a.old",
            "ferroftp mv 'ftp://user@host/inbox/*.csv' /done/",
        ),
        manage.add_mv_arguments,
        manage.run_mv,
    ),
    Command(
        "stat",
        "[--json] URL...",
        "show a remote file's or directory's type, size, time and permissions",
        ("ferroftp stat --json ftp://host/pub/big.iso",),
        listing.add_stat_arguments,
        listing.run_stat,
    ),
    Command(
        "chmod",
        "MODE URL...",
        "set remote permissions (SITE CHMOD)",
        ("ferroftp chmod 644 'ftp://user@host/www/*.html'",),
        manage.add_chmod_arguments,
        manage.run_chmod,
    ),
    Command(
        "quote",
        "URL COMMAND...",
        "send a raw command and print the reply",
        ("ferroftp quote ftp://host/ FEAT", "ferroftp quote ftp://user@host/ SITE UMASK 022"),
        manage.add_quote_arguments,
        manage.run_quote,
    ),
)
BY_NAME = {c.name: c for c in COMMANDS}

CREDENTIALS = """\
credentials, first found: the URL (ftp://user:password@host), --user USER[:PASSWORD],
FERROFTP_USER and FERROFTP_PASSWORD, ~/.netrc (also for the password of a user the URL
names), a prompt when stdin is a terminal; without a user the login is anonymous."""


def _statuses() -> str:
    return "exit status:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_STATUSES)


def _short_statuses() -> str:
    words = {0: "done", 1: "failed", 2: "bad usage", 3: "not found", 4: "login refused"}
    words.update({5: "some failed", 6: "try later", 130: "interrupted"})
    return ", ".join(f"{code} {words[code]}" for code, _ in EXIT_STATUSES)


class Parser(argparse.ArgumentParser):
    """Raises :class:`UsageError` instead of printing the usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options (anywhere on the line)")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="show the protocol on stderr (-vv: every log record of the library)",
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, no summary: only errors"
    )
    group.add_argument(
        "-u",
        "--user",
        metavar="USER[:PASSWORD]",
        help="log in as USER when the URL names nobody",
    )
    add_connection_options(common)
    return common


def command_parser(command: Command, common: argparse.ArgumentParser | None = None) -> Parser:
    """The parser of one command (with the common options)."""
    examples = "\n".join(f"  {e}" for e in command.examples)
    parser = Parser(
        prog=f"ferroftp {command.name}",
        usage=f"ferroftp {command.name} [OPTIONS] {command.synopsis}",
        description=f"{command.summary[0].upper()}{command.summary[1:]}.\n\n"
        f"example{'s' if len(command.examples) > 1 else ''}:\n{examples}",
        epilog=f"{CREDENTIALS}\n\nexit status: {_short_statuses()} (ferroftp --help says more)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common or _common()],
    )
    command.add_arguments(parser)
    return parser


def top_parser(common: argparse.ArgumentParser | None = None) -> Parser:
    """The parser of ``ferroftp`` itself: ``--help`` and ``--version``."""
    width = max(len(c.name) for c in COMMANDS)
    listed = "\n".join(f"  {c.name:<{width}}  {c.summary}" for c in COMMANDS)
    parser = Parser(
        prog="ferroftp",
        usage="ferroftp [OPTIONS] COMMAND [ARGS] (ferroftp COMMAND --help for each)",
        description=textwrap.dedent(
            """\
            FTP and FTPS transfers from the command line: ftp:// (plain, or TLS with --tls
            explicit), ftpes:// (explicit TLS), ftps:// (implicit TLS). Options may come
            anywhere on the line; progress bars are drawn when stderr is a terminal."""
        ),
        epilog=f"commands:\n{listed}\n\n{CREDENTIALS}\n\n{_statuses()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common or _common()],
    )
    parser.add_argument("--version", action="version", version=f"ferroftp {ferroftp.__version__}")
    return parser


def _takes_value(parsers: Sequence[argparse.ArgumentParser]) -> set[str]:
    """The option strings that take a value, in any of ``parsers``."""
    return {
        option
        for parser in parsers
        for action in parser._actions
        if action.nargs != 0
        for option in action.option_strings
    }


def find_command(argv: Sequence[str], takes_value: set[str]) -> int | None:
    """The index of the command word in ``argv``: the first word that is neither an option
    nor an option's value (``None`` when there is none)."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return i + 1 if i + 1 < len(argv) else None
        if word.startswith("--"):
            i += 2 if "=" not in word and word in takes_value else 1
        elif word.startswith("-") and word != "-":
            # A cluster of short options: one taking a value takes the rest, or the next word.
            taker = next((j for j in range(1, len(word)) if f"-{word[j]}" in takes_value), None)
            i += 2 if taker == len(word) - 1 else 1
        else:
            return i
    return None


def parse(argv: Sequence[str]) -> tuple[Command, argparse.Namespace]:
    """The command and its arguments; ``--help`` and ``--version`` exit (``SystemExit(0)``)."""
    common = _common()
    parsers = {c.name: command_parser(c, common) for c in COMMANDS}
    top = top_parser(common)
    at = find_command(argv, _takes_value([top, *parsers.values()]))
    if at is None:
        top.parse_args(argv)  # --help, --version, or an unknown option
        names = ", ".join(BY_NAME)
        raise UsageError(f"ferroftp: a command is missing ({names}; see ferroftp --help)")
    name = argv[at]
    if name not in BY_NAME:
        raise UsageError(
            f"ferroftp: unknown command {name!r} (one of {', '.join(BY_NAME)}; see ferroftp --help)"
        )
    rest = [*argv[:at], *argv[at + 1 :]]
    if "--" in argv[:at]:
        rest.remove("--")
    args = parsers[name].parse_intermixed_args(rest)
    return BY_NAME[name], args
