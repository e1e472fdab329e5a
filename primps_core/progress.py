"""Progress of every long loop, wherever it runs: a bar on a terminal, a line every few seconds elsewhere.

``bar(...)`` takes tqdm's arguments (an iterable or ``total``, ``initial``, ``desc``, ``unit``,
``leave``, ``disable``) and gives:

- on a terminal that has a width, tqdm's bar;
- in a Jupyter kernel, tqdm's notebook widget (``tqdm.auto``);
- anywhere else (stderr piped to a file or a log, a pseudo-terminal without a size, a batch job),
  ``Lines``: one line on stderr every ``EVERY_S`` seconds with the count, the rate, the postfix
  (images/s, losses) and the time left, and a last line when a loop that ran that long ends. A
  loop shorter than ``EVERY_S`` prints nothing, so quick commands keep stderr clean.

tqdm alone prints nothing useful off a terminal: it redraws one line with carriage returns, and on
a terminal of width 0 (``script``, some CI runners) it prints no meter at all.
"""
from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm as terminal_tqdm
from tqdm.auto import tqdm as auto_tqdm

EVERY_S = 10.0      # seconds between two progress lines off a terminal


def bar(iterable=None, *, total=None, initial: int = 0, desc: str = "", unit: str = "it", leave: bool = True,
        disable: bool = False):
    """A progress meter for the loop, as the module docstring says where it runs."""
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    options = dict(total=total, initial=initial, desc=desc, unit=unit, leave=leave, disable=disable)
    if disable or _terminal_width() > 0:
        return terminal_tqdm(iterable, **options)
    if _in_jupyter_kernel():
        return auto_tqdm(iterable, **options)
    return Lines(iterable, total=total, initial=initial, desc=desc, unit=unit)


def _terminal_width() -> int:
    """Columns of the terminal stderr writes to; 0 when it is not a terminal or has no size."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns if sys.stderr.isatty() else 0
    except (OSError, ValueError, AttributeError):      # a replaced stderr without a file descriptor
        return 0


def _in_jupyter_kernel() -> bool:
    shell = sys.modules.get("IPython") and getattr(sys.modules["IPython"], "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class Lines:
    """A meter that writes whole lines to stderr, at most one every ``every`` seconds (see ``bar``)."""

    def __init__(self, iterable=None, *, total=None, initial: int = 0, desc: str = "", unit: str = "it",
                 every: float | None = None, stream=None):
        self.iterable, self.total, self.n, self.desc, self.unit = iterable, total, initial, desc, unit
        self.every, self.stream = EVERY_S if every is None else every, stream
        self.initial, self.postfix = initial, {}
        self.started = self.last = time.monotonic()
        self.printed = self.closed = False

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> "Lines":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:           # interrupted or failed: no "done" line; the error says what happened
            self.closed = True
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._write(now)

    def set_postfix(self, **values) -> None:
        self.postfix = values

    def close(self) -> None:
        """The last line, if the loop ran long enough to have printed one."""
        if not self.closed and (self.printed or time.monotonic() - self.started >= self.every):
            self._write(time.monotonic(), done=True)
        self.closed = True

    def line(self, now: float, done: bool = False) -> str:
        """``desc: n/total unit (p%), rate unit/s, postfix, time left`` (or the time taken when done)."""
        elapsed = max(now - self.started, 1e-9)
        rate = (self.n - self.initial) / elapsed
        count = f"{self.n:,}" + (f"/{self.total:,} {self.unit} ({100 * self.n / self.total:.0f}%)"
                                 if self.total else f" {self.unit}")
        parts = [f"{self.desc}: {count}" if self.desc else count, f"{rate:.3g} {self.unit}/s"]
        parts += [f"{key}={value}" for key, value in self.postfix.items()]
        if done:
            parts.append(f"done in {_duration(elapsed)}")
        elif self.total and rate > 0:
            parts.append(f"{_duration((self.total - self.n) / rate)} left")
        return ", ".join(parts)

    def _write(self, now: float, done: bool = False) -> None:
        stream = self.stream or sys.stderr
        print(self.line(now, done), file=stream, flush=True)
        self.printed = True


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s`` or ``2 h 07 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
