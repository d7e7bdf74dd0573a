"""Files the data loaders and the application write: where a cache lives, and one atomic writer."""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "cache_dir"]


def cache_dir() -> Path | None:
    """Where slow-to-make data is cached: $TINYGRAD1D_CACHE, else the XDG cache; None = off.

    TINYGRAD1D_CACHE set to "", "0", "off", "false" or "no" disables the on-disk cache.
    A relative XDG_CACHE_HOME is ignored, as the XDG spec asks (it would land in the cwd).
    """
    env = os.environ.get("TINYGRAD1D_CACHE")
    if env is not None:
        if env.strip().lower() in ("", "0", "off", "false", "no"):
            return None
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "tinygrad1d"
    try:
        return Path.home() / ".cache" / "tinygrad1d"
    except RuntimeError:  # no resolvable home directory: just don't cache
        return None


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write a file through `write(f)` so that readers never see half of it: into a temporary
    file beside it, flushed and fsynced, then renamed over `path` (an atomic step on POSIX).
    An interrupted write leaves the old file, or none; the temporary file is removed. OSError
    propagates: callers for whom the file is optional (a cache) catch it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its file is private (mode 0o600) and stays so after the rename.
    # Mode 0o666 lets the umask decide, as it does for files made by open(), so the result
    # gets the permissions of its neighbours. A random name with O_EXCL: two writers never
    # share a temporary file. (O_BINARY exists on Windows only: no newline translation.)
    tmp = path.with_name(f".{path.name}-{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
