"""Files only their owner reads: folders 0700 and files 0600 whatever the umask, and never
through a symbolic link someone else put where our file goes.

The database holds tokens; the log and the data folder hold logins, counter names and the
API's errors. A umask of 022 (or 000) must not make them readable by every local user, and
a symlink in place of the log must not turn our appends into writes to another file.
Leaf module: the standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


class NotPrivate(OSError):
    """A path we would write cannot be made private (a symlink, not a regular file)."""


def make_private_dir(path: Path) -> None:
    """Create `path` and its missing parents as 0700 (chmod after mkdir: the umask only takes
    bits away, and may take the owner's). Folders that exist already are left as they are."""
    missing: list[Path] = []
    node = Path(path)
    while not os.path.lexists(node) and node != node.parent:
        missing.append(node)
        node = node.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, FOLDER_MODE)


def open_private(path: Path, flags: int) -> int:
    """`os.open` for writing our own file: created 0600, never through a symlink (ELOOP is
    `NotPrivate`), a regular file only (a FIFO would block, a device is not a log), and made
    0600 if it is ours and was readable by others (created by an older version, another umask)."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotPrivate(
                errno.ELOOP, "is a symbolic link: not followed (remove it, or choose another path)", str(path)
            ) from None
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads (opening it would have blocked)
            raise NotPrivate(errno.ENXIO, "is not a regular file", str(path)) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotPrivate(errno.EINVAL, "is not a regular file", str(path))
        os.set_blocking(fd, True)
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_private_file(path: Path) -> None:
    """Create `path` empty and 0600 if nothing is there (not even a dangling symlink to follow)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
