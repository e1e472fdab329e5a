"""Where the project's files live (data, runs, figures, notebooks) and how they are written: atomically.

Paths are resolved from the package (an editable install inside the repository), never from the
current working directory, so notebooks run from any folder read the right files. Set
``PRIMPS_ROOT`` to point the package at another checkout or output tree.
"""
from __future__ import annotations

import csv
import ctypes
import ctypes.util
import errno
import functools
import glob
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(os.environ.get("PRIMPS_ROOT", Path(__file__).resolve().parents[1]))
DATA_DIR = ROOT / "data"
PHOTOS_DIR = DATA_DIR / "photos"
RUNS_DIR = ROOT / "runs"
FIGURES_DIR = ROOT / "figures"
NOTEBOOKS_DIR = ROOT / "notebooks"
CANONICAL_PRESET = "cpu"


STALE_AFTER = 7 * 24 * 3600       # seconds: a temporary untouched this long is swept even if its pid runs again
_TEMPORARY = re.compile(r"(?P<pid>\d+)-[0-9a-f]{8}")


def temporary(path, *, folder: bool = False) -> Path:
    """A new, empty temporary file (or folder) beside ``path``, to be renamed onto it when whole.

    Its name, ``.<name>-tmp<pid>-<8 hex digits><suffix>``, says which process owns it (the suffix
    is kept so writers that infer a format from it work), so the temporaries of processes that
    died without cleaning up (SIGKILL, a power cut) are recognised and swept here, at the next
    write of the same output. It is created with the mode a plain ``open`` or ``mkdir`` gives,
    i.e. the umask's, not the owner-only mode of ``tempfile``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep(path)
        while True:
            candidate = path.parent / f".{path.name}-tmp{os.getpid()}-{secrets.token_hex(4)}{path.suffix}"
            try:
                if folder:
                    os.mkdir(candidate)
                else:
                    os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
                return candidate
            except FileExistsError:
                continue
    except OSError as error:
        raise write_error(error, path) from None


def write_error(error: OSError, path) -> OSError:
    """``error`` (raised while writing ``path`` through a temporary) reworded to name ``path``, the
    output the user asked for, instead of the temporary: "cannot write out.zip: No space left"."""
    return type(error)(error.errno, f"cannot write {path}: {error.strerror or error}")


def sweep(path) -> list[Path]:
    """Remove the temporaries of ``path`` (see ``temporary``) whose owner process no longer runs, or
    that nothing has touched for ``STALE_AFTER`` seconds (the pid may have been reused); return them.
    A live process's temporaries are left alone: it may be writing them now."""
    path = Path(path)
    prefix = f".{path.name}-tmp"
    swept = []
    for entry in path.parent.glob(glob.escape(prefix) + "*"):
        match = _TEMPORARY.match(entry.name[len(prefix):])
        if match is None or entry.name[len(prefix) + match.end():] != path.suffix:
            continue
        try:
            stale = time.time() - entry.lstat().st_mtime > STALE_AFTER
        except FileNotFoundError:
            continue
        if stale or not _running(int(match["pid"])):
            remove(entry)
            swept.append(entry)
    return swept


def _running(pid: int) -> bool:
    """True if a process with this pid exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:             # exists, owned by another user
        return True
    return True


def remove(path: Path) -> None:
    """Remove a file or folder if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write(path, write: Callable[[str], None], *, replace: bool = True) -> Path:
    """Create ``path`` all at once: ``write(temporary)`` fills a temporary file beside it (see
    ``temporary``), which is then renamed to ``path``; on any error or interrupt the temporary is
    removed and ``path`` is left as it was. With ``replace=False`` (a command's output without
    ``--force``) a ``path`` that another writer created meanwhile is kept and this write fails."""
    path = Path(path)
    staging = temporary(path)
    try:
        write(str(staging))
        replace_atomically(staging, path, replace=replace)
    except FileExistsError:
        staging.unlink(missing_ok=True)
        raise
    except OSError as error:
        staging.unlink(missing_ok=True)
        raise write_error(error, path) from None
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return path


def check_output(path, *, force: bool, ours: Callable[[Path], bool], what: str) -> Path:
    """``path`` as an absolute path if a command may write ``what`` there: nothing exists there yet,
    or ``force`` is given and ``ours(path)`` recognises what is there as an earlier ``what``. One
    clear error otherwise, before anything is written: an output never replaces what its command did
    not create (a folder of other files, the current directory, a file of another kind)."""
    path = Path(os.path.abspath(path))
    if not (path.exists() or path.is_symlink()):
        return path
    if not force:
        raise FileExistsError(f"{path} already exists: choose another output, or pass --force to replace it")
    if path.is_symlink() or not ours(path):
        raise FileExistsError(f"{path} exists and is not {what}: refusing to replace it, even with --force")
    return path


def replace_atomically(staging: Path, path: Path, *, replace: bool = True) -> None:
    """Move the finished ``staging`` (a temporary file or folder beside ``path``) to ``path``. A file
    is replaced in one rename; an earlier folder is first renamed aside (into a temporary that a
    later sweep removes if this process dies here), then removed, so ``path`` always holds either
    the old output or the new one, whole.

    With ``replace=False`` nothing at ``path`` is ever replaced: the rename itself refuses to
    overwrite (``renameat2``'s RENAME_NOREPLACE), so of two commands writing the same output at
    once without ``--force``, both having checked that it was free, exactly one succeeds and the
    other fails with ``FileExistsError``, its own result discarded by the caller."""
    if not replace:
        _rename_without_replacing(staging, path)
        return
    if not path.is_dir():
        os.replace(staging, path)
        return
    aside = temporary(path, folder=True)
    os.replace(path, aside / path.name)
    os.replace(staging, path)
    shutil.rmtree(aside, ignore_errors=True)


_RENAME_NOREPLACE, _AT_FDCWD = 1, -100


def _rename_without_replacing(staging: Path, path: Path) -> None:
    """Rename ``staging`` to ``path`` in one step that fails if ``path`` exists (Linux ``renameat2``;
    elsewhere a hard link for files, or ``os.rename``, which refuses a non-empty folder)."""
    taken = FileExistsError(f"{path} was created by another process while this one was writing it: "
                                          f"left as it is; choose another output, or pass --force to replace it")
    rename = getattr(_libc(), "renameat2", None)
    if rename is not None:
        if rename(_AT_FDCWD, os.fsencode(staging), _AT_FDCWD, os.fsencode(path), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise taken
        if code not in (errno.ENOSYS, errno.EINVAL):       # a filesystem without the flag falls through
            raise OSError(code, os.strerror(code), str(path))
    if path.exists() or path.is_symlink():
        raise taken
    if staging.is_dir():
        os.rename(staging, path)
        return
    try:
        os.link(staging, path)
    except FileExistsError:
        raise taken from None
    staging.unlink()


@functools.lru_cache(maxsize=1)
def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def figures_dir(preset: str) -> Path:
    """Output folder of a preset's figures: ``figures/`` for the canonical preset, else under runs/."""
    return FIGURES_DIR if preset == CANONICAL_PRESET else RUNS_DIR / preset / "figures"


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` (dicts with the same keys) as CSV atomically: a temporary name, then rename."""
    def write(temporary: str) -> None:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    atomic_write(path, write)


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """A CSV written by ``write_csv`` as columns: numbers as float arrays, text as string arrays."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        try:
            columns[key] = np.array(values, dtype=float)
        except ValueError:
            columns[key] = np.array(values)
    return columns
