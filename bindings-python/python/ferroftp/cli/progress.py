"""Progress on stderr: bars (bytes, rate, ETA; tqdm) on a terminal, one line per file when stderr
is not a terminal, nothing with ``-q``. Error and log lines pass through here too, so that they
appear above live bars instead of inside them."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm as Tqdm
    from typing_extensions import Self

    import ferroftp

#: A bar with a known total: name, percentage, bar, bytes done and in all, rate, ETA.
KNOWN = "{desc}  {percentage:3.0f}%|{bar}| {n_fmt}B/{total_fmt}B  {rate_fmt}  ETA {remaining}"
#: A bar whose total is not known (yet): bytes done, rate, time so far.
UNKNOWN = "{desc}  {n_fmt}B  {rate_fmt}  {elapsed}"
#: The longest label a bar shows (the rest of the line is the bar).
LABEL = 28


def size(n: int) -> str:
    """``n`` bytes for people: ``512 B``, ``1.5 kB``, ``2.0 MB`` (powers of 1000)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _label(text: str) -> str:
    return text if len(text) <= LABEL else "…" + text[-(LABEL - 1) :]


class Reporter:
    """Where the progress of a command goes."""

    def __init__(self, stream: TextIO, *, quiet: bool, terminal: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        #: Whether bars are drawn (stderr is a terminal, and no ``-q``).
        self.bars = terminal and not quiet
        self._live: list[Tqdm[Any]] = []

    def silence(self) -> None:
        """No bars and no per-file lines from now on (errors still appear)."""
        self.bars = False
        self.quiet = True

    def say(self, line: str) -> None:
        """Writes a line on stderr (above any live bar)."""
        if self._live:
            from tqdm import tqdm

            tqdm.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def done(self, line: str) -> None:
        """A file is done: its line, when stderr is not a terminal (and no ``-q``)."""
        if not self.quiet and not self.bars:
            self.say(line)

    def bar(self, label: str, total: int | None = None, *, leave: bool = True) -> Bar:
        """A bar for one transfer (its ``update`` is a progress callback)."""
        return Bar(self, _label(label), total, leave=leave)

    def batch(self, files: int, total: int | None) -> BatchBar:
        """A bar for ``files`` files of ``total`` bytes (when known) in all."""
        return BatchBar(self, files, total)

    def abort(self) -> None:
        """Ends every live bar where it stands (before an error line, or at Ctrl-C)."""
        for bar in list(self._live):
            self._close(bar)

    def _open(self, label: str, total: int | None, leave: bool) -> Tqdm[Any] | None:
        if not self.bars:
            return None
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: bars are redrawn as data moves
        bar: Tqdm[Any] = tqdm(
            total=total,
            desc=label,
            unit="B",
            unit_scale=True,
            file=self.stream,
            dynamic_ncols=True,
            leave=leave,
            mininterval=0.2,
            bar_format=UNKNOWN if total is None else KNOWN,
        )
        self._live.append(bar)
        return bar

    def _close(self, bar: Tqdm[Any]) -> None:
        bar.close()
        if bar in self._live:
            self._live.remove(bar)


class Bar:
    """One transfer's bar; nothing is drawn when the reporter draws no bars."""

    def __init__(self, reporter: Reporter, label: str, total: int | None, *, leave: bool) -> None:
        self.reporter = reporter
        self.total = total
        self.n = 0
        self._bar = reporter._open(label, total, leave)

    def update(self, done: int, total: int | None = None) -> None:
        """Progress callback: ``done`` bytes so far of ``total`` (when known)."""
        bar = self._bar
        if total is not None and self.total is None:
            self.total = total
            if bar is not None:
                bar.total = total
                bar.bar_format = KNOWN
        if bar is not None and done > self.n:
            bar.update(done - self.n)
        self.n = max(self.n, done)

    def close(self) -> None:
        if self._bar is not None:
            self.reporter._close(self._bar)
            self._bar = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()


class BatchBar(Bar):
    """The total bar of several files: ``3/40 files``, bytes, rate and ETA."""

    def __init__(self, reporter: Reporter, files: int, total: int | None) -> None:
        self.files = files
        self.files_done = 0
        super().__init__(reporter, self._label(), total, leave=True)

    def _label(self) -> str:
        return f"{self.files_done}/{self.files} files"

    def batch(self, p: ferroftp.BatchProgress) -> None:
        """Progress callback of a pool's batch."""
        self.set_files(p.files_done)
        self.update(p.bytes_done)

    def set_files(self, done: int) -> None:
        """``done`` files are finished."""
        if done != self.files_done:
            self.files_done = done
            if self._bar is not None:
                self._bar.set_description_str(self._label(), refresh=False)
                if done == self.files:
                    self._bar.refresh()
