"""The ``ferroftp`` command: FTP and FTPS from a shell or a script.

::

    ferroftp ls [-l] [-R] [--json] URL...              list (wildcards allowed)
    ferroftp get [-c] [-j N] URL... [DEST|-]           download (- writes to stdout)
    ferroftp put [-c] [-j N] LOCAL...|- URL            upload (- reads stdin)
    ferroftp cat URL...                                remote files to stdout
    ferroftp mirror [--delete] [--dry-run] [--exclude GLOB] [--include GLOB]
                    [--newer-only|--size-only] [-j N] URL DIR | DIR URL
    ferroftp rm [-r] [-f] URL...    mkdir [-p] URL...    rmdir [-r] URL...
    ferroftp mv URL... DEST         chmod MODE URL...    stat [--json] URL...
    ferroftp quote URL COMMAND...

Common options, anywhere on the line: ``-v``/``-vv`` (the protocol on stderr), ``-q``,
``-u USER[:PASSWORD]`` and the connection options, one per setting of the core
(``--timeout``, ``--tls``, ``--ca-file``, ``--data-mode``, ... and ``--insecure``,
``--passive``, ``--active``, ``--epsv``). Exit statuses: :data:`EXIT_STATUSES`.

Modules: ``parser`` (the command line), ``app`` (``main``), ``options`` (connection options
from the core's table), ``urls`` and ``credentials``, ``context`` (pools and sessions),
``globs``, ``walk`` (trees), ``transfers`` (single and batch transfers), ``progress`` (bars and
lines), ``logs`` (``-v``), and the commands: ``listing`` (ls, stat), ``files`` (get, put, cat),
``manage`` (rm, mkdir, rmdir, mv, chmod, quote), ``mirror``.
"""

from __future__ import annotations

from ferroftp.cli.app import main
from ferroftp.cli.status import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_STATUSES,
    EXIT_TEMPORARY,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_STATUSES",
    "EXIT_TEMPORARY",
    "EXIT_USAGE",
    "main",
]
