"""``main``: parse, run the command, and turn every outcome into an exit status and at most one
line on stderr per failure (never a traceback)."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import traceback
from collections.abc import Sequence

import ferroftp
from ferroftp.cli import logs
from ferroftp.cli.context import Context
from ferroftp.cli.parser import parse
from ferroftp.cli.progress import Reporter
from ferroftp.cli.status import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Partial,
    UsageError,
    describe,
    exit_status,
)

#: The exit status of a command whose reader went away (as if killed by SIGPIPE).
EXIT_BROKEN_PIPE = 141

NO_PASSWORD = (
    " (no password was given: put it in the URL, --user USER:PASSWORD, FERROFTP_PASSWORD "
    "or ~/.netrc)"
)


def _broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno == errno.EPIPE
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command, args = parse(argv)
    except UsageError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help, --version
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    terminal = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    reporter = Reporter(sys.stderr, quiet=args.quiet, terminal=terminal)
    logs.setup(args.verbose, reporter.say)
    ctx = Context(args, reporter)
    try:
        status = command.run(ctx, args)
        ctx.close()
        return status
    except KeyboardInterrupt:
        reporter.abort()
        reporter.say("ferroftp: interrupted")
        # Leave at once: saying goodbye to a server that stopped answering could take long.
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)
    except Exception as e:
        reporter.abort()
        if _broken_pipe(e):
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_BROKEN_PIPE
        if isinstance(e, Partial):
            pass  # each failure is already on stderr
        elif isinstance(e, (ferroftp.Error, OSError, UsageError)):
            text = describe(e)
            if isinstance(e, ferroftp.AuthenticationError) and ctx.passwordless():
                text += NO_PASSWORD
            reporter.say(f"ferroftp: {text}")
        else:
            reporter.say(f"ferroftp: internal error: {type(e).__name__}: {describe(e)}")
            if args.verbose >= 2:
                reporter.say(traceback.format_exc().rstrip())
        with contextlib.suppress(Exception):
            ctx.close()
        return exit_status(e)
