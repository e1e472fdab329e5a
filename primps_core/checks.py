"""Validation of user-facing parameters, with one wording everywhere.

Every public function that takes a count, a size, a seed, a flag or a name from a fixed list checks
it here, so a bad value fails early with one sentence naming the parameter, what was expected and
what was given. A value of the wrong type raises ``TypeError``; a value of the right type outside
its range or list raises ``ValueError``.

    integer(n, "n", 1)                    -> "n must be an integer >= 1, got 0"
    integer(k, "freeze_d", 0, 3)          -> "freeze_d must be an integer in 0..3, got 5"
    choice(law, "alpha_law", ALPHA_LAWS)  -> "alpha_law must be one of 'published', 'natural'; got 'x'"
"""
from __future__ import annotations

from collections.abc import Collection

import numpy as np


def integer(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as a Python int if it is an integer (not a bool) within ``low..high`` (either bound
    optional); one clear error otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer{_bounds(low, high)}, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{_bounds(low, high)}, got {value!r}")
    return int(value)


def _bounds(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" in {low}..{high}"
    if low is not None:
        return f" >= {low}"
    return f" <= {high}" if high is not None else ""


def boolean(value, name: str) -> bool:
    """``value`` as a bool if it is True or False; one clear error otherwise (1 and "yes" are not)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(value, name: str, choices: Collection):
    """``value`` if it is one of ``choices``; one clear error listing them otherwise."""
    try:
        known = value in choices
    except TypeError:                       # an unhashable value asked of a set or dict
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


DEVICES = "auto, cpu, cuda, cuda:N or mps"


def device(value) -> str:
    """``value`` if it names a torch device this machine has (``cpu``, ``cuda``, ``cuda:N``, ``mps``),
    and for ``auto`` the best one it has (``cuda``, else ``mps``, else ``cpu``); one clear error
    otherwise, before any work starts: an unknown name, a GPU this torch build cannot use (the
    pinned wheel is CPU-only), or a GPU index beyond those present."""
    import torch
    if value == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    try:
        parsed = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device must be one of {DEVICES}; got {value!r}") from None
    if parsed.type == "cuda":
        if torch.version.cuda is None:
            raise ValueError(f"device {value!r} is not available: this torch ({torch.__version__}) is a CPU-only build; "
                             f"use --device cpu, or install a CUDA build of torch")
        count = torch.cuda.device_count()
        if count == 0 or (parsed.index is not None and parsed.index >= count):
            raise ValueError(f"device {value!r} is not available: torch sees {count} CUDA GPU(s)")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {value!r} is not available: this machine has no MPS GPU")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be one of {DEVICES}; got {value!r}")
    return value
