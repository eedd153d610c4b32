"""The Keras configuration the probe measures, set for each Keras child and recorded (issue 15,
item 12).

Keras reads ``keras.json`` under ``KERAS_HOME`` (default ``~/.keras``) at import: a user's
``floatx: float16`` silently changed the Keras rows (one dropped to accuracy 0.77) while
probe.json said float32, and a FIFO there hung ``probe --quick``. So every Keras child gets a
private ``KERAS_HOME`` whose keras.json holds :data:`MEASURED` and the row's backend; the user's
own file is only read (never blocking, bounded, a regular file only) to record how it differs.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import stat
import tempfile
from typing import Any

MEASURED: dict[str, Any] = {"floatx": "float32", "epsilon": 1e-07,
                            "image_data_format": "channels_last"}
_MAX_BYTES = 64 * 1024
_homes: dict[str, str] = {}


def user_home() -> str:
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def read_user_config(home: str | None = None) -> dict[str, Any] | None:
    """The user's keras.json as a dict, or None (absent, not a regular file, too big, not a JSON
    object). Opened with O_NONBLOCK: a FIFO planted there never blocks the probe."""
    path = os.path.join(home or user_home(), "keras.json")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_BYTES:
            return None
        data = os.read(fd, _MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        from advisor.infra import jsonio

        value = jsonio.loads(data.decode("utf-8"))
    except Exception:  # an unreadable keras.json is one Keras would ignore too
        return None
    return value if isinstance(value, dict) else None


def child_home(backend: str) -> str:
    """A private KERAS_HOME for children measuring ``backend`` (one per backend and process,
    removed at exit): keras.json with :data:`MEASURED` and that backend."""
    if backend not in _homes:
        folder = tempfile.mkdtemp(prefix=f"advisor-keras-{backend}-")
        if not _homes:
            atexit.register(_cleanup)
        _homes[backend] = folder
        with open(os.path.join(folder, "keras.json"), "w", encoding="utf-8") as handle:
            json.dump({**MEASURED, "backend": backend}, handle)
    return _homes[backend]


def _cleanup() -> None:
    for folder in _homes.values():
        shutil.rmtree(folder, ignore_errors=True)
    _homes.clear()


def record() -> dict[str, Any]:
    """What probe.json says about the Keras configuration: what was measured, and which of the
    user's settings were set aside for it."""
    user = read_user_config() or {}
    differs = {k: user[k] for k in MEASURED if k in user and user[k] != MEASURED[k]}
    return {"measured": dict(MEASURED), "user_settings_not_used": differs}
