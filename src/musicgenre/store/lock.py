"""One lock per feature store, so that two processes never build (or reset, or clean) the same store at once.

The lock is an exclusive :func:`fcntl.flock` on ``<cache_root>/<dataset_key>/.<feature_key>.lock``, beside
the store folder. The kernel releases it when its owner closes the file, exits or is killed, so a crashed
build never blocks the next one and no stale lock needs breaking. The file holds the owner's pid, for the
"waiting for ..." message only. It is written in place rather than through :mod:`musicgenre.fileio`
(a rename would give a new inode, and the lock is on the inode), and it is never deleted: deleting it while
another process waits on it would let a third process lock a fresh file while the second one holds the old.

A cache folder that cannot be written (read-only mount, another user's cache) cannot be locked: the store
is then used without a lock, as nobody can be building it through this folder either.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

_UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def lock_path(store: Path) -> Path:
    """The lock file of the store folder ``store``."""
    return store.parent / f".{store.name}.lock"


class StoreLock:
    """``with StoreLock(store, on_wait):`` holds the store's lock, waiting for it if another process has it.

    ``on_wait`` gets a one-line message when the lock is busy, before waiting. ``held`` is False when the
    cache folder cannot be written and the store is used without a lock.
    """

    def __init__(self, store: Path, on_wait: Callable[[str], None] | None = None) -> None:
        self.store = Path(store)
        self.path = lock_path(self.store)
        self.on_wait = on_wait
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StoreLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            if exc.errno not in _UNWRITABLE:
                raise
            log.debug("%s: cannot create the lock file (%s); using the store without a lock", self.path, exc)
            return self
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if self.on_wait is not None:
                    owner = _read_pid(fd)
                    who = f"another process (pid {owner})" if owner else "another process"
                    self.on_wait(f"waiting for {self.store}: {who} is building it")
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:  # Ctrl-C while waiting, or a failed write: let go of the file
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # no owner any more
        finally:
            os.close(fd)  # releases the lock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
