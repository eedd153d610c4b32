"""Write files atomically: a temporary file in the same folder, fsync, then rename.

A reader (or a Ctrl-C) never sees a half-written file: either the old content or the new.
Only a regular file is ever replaced. What is not one is written *through*, never replaced:

- ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N`` and ``/proc/self/fd/N`` are the process's own
  open descriptors: the bytes go to that descriptor, as a shell's ``> /dev/stdout`` would (the
  system's ``/dev/stdout`` symlink stays, even when advisor runs as root);
- an existing FIFO, character device (``/dev/null``, a terminal) or socket is opened for writing
  and written to, never unlinked (a FIFO waits for its reader, as with a shell redirect);
- a symlink is followed: the file it points to is replaced atomically and the link stays a link;
  a symlink to nothing is refused (advisor does not create files where a link points).

Every failure (a full disk, a read-only folder) is one FileProblem line naming the path, and no
temporary file is left behind.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

from advisor.infra.errors import FileProblem

_OWN_FD = re.compile(r"^/(?:dev/(?:stdout|stderr|fd/(\d+))|proc/self/fd/(\d+))$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _problem(exc: OSError, where: str) -> FileProblem:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device (nothing was replaced)"
    return FileProblem(f"cannot write: {reason}", path=where)


def _own_fd(path: str) -> int | None:
    match = _OWN_FD.match(os.path.normpath(path) if path.startswith("/") else "")
    if not match:
        return None
    if path.endswith("stdout"):
        return 1
    if path.endswith("stderr"):
        return 2
    return int(match.group(1) or match.group(2))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    target = Path(path)
    where = str(target)
    fd_number = _own_fd(where)
    if fd_number is not None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()  # what advisor printed before comes first
            except (OSError, ValueError):
                pass
        try:
            _write_all(fd_number, data)
        except OSError as exc:
            raise _problem(exc, where) from None
        return target
    try:
        info = os.stat(target)  # follows symlinks
    except FileNotFoundError:
        info = None
        if target.is_symlink():
            raise FileProblem("is a symlink to a missing file; advisor does not create files "
                              "where a link points (write to the link's target instead)",
                              path=where) from None
    except OSError as exc:
        raise _problem(exc, where) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise FileProblem("is a directory, expected a file path", path=where)
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_through(target, data)
        return target
    if target.is_symlink():
        target = Path(os.path.realpath(target))  # replace the file it points to, keep the link
    _replace(target, data, where)
    return Path(path)


def _write_through(target: Path, data: bytes) -> None:
    """A FIFO, device or socket: opened and written, never unlinked or replaced."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _problem(exc, str(target)) from None
    try:
        _write_all(fd, data)
    except OSError as exc:
        raise _problem(exc, str(target)) from None
    finally:
        os.close(fd)


def _replace(target: Path, data: bytes, where: str) -> None:
    parent = target.parent if str(target.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise _problem(exc, where) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # what open() would give, not mkstemp's 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _problem(exc, where) from None
        raise


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fail early (before a long probe) when ``path`` could not be written: a FileProblem."""
    target = Path(path)
    where = str(target)
    if _own_fd(where) is not None:
        return
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
        if target.is_symlink():
            raise FileProblem("is a symlink to a missing file", path=where) from None
    except OSError as exc:
        raise _problem(exc, where) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise FileProblem("is a directory, expected a file path", path=where)
    if info is not None and not stat.S_ISREG(info.st_mode):
        if not os.access(target, os.W_OK):
            raise FileProblem("cannot write: permission denied", path=where)
        return
    folder = Path(os.path.realpath(target)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the first folder that exists is where mkdir would start
    if not folder.is_dir():
        raise FileProblem(f"cannot write: {folder} is not a folder", path=where)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FileProblem(f"cannot write: the folder {folder} is not writable", path=where)
