"""Write a file atomically: through a temporary file beside it, renamed into place.

:func:`write_atomically` writes a temporary file ``.xdnn-<16 hex digits>.npz.tmp`` in the target's
folder and renames it into place, so an interrupted write never leaves a broken file behind.  On
POSIX the writer holds an exclusive ``flock`` on its temporary file until the rename, and a write
that succeeds removes the temporary files in its folder that nobody holds locked: those of writes
killed midway, never one another thread or process is writing.  (Without ``fcntl`` -- Windows --
it removes those untouched for a minute that it can: a file open for writing cannot be removed
there.  On a network filesystem whose locks are not shared between machines, two machines writing
into one folder at once may remove each other's temporary file, failing that write.)
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from typing import BinaryIO, Callable

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; see _remove_abandoned_temporary
    fcntl = None

_TEMPORARY = re.compile(r"\.xdnn-[0-9a-f]{16}\.npz\.tmp")
_UNLOCKED_TEMPORARY_AGE = 60.0  # seconds: without locks, an older temporary file is taken as abandoned


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Replace the file ``path`` with what ``write(stream)`` writes, all at once or not at all.

    ``path``'s folder must exist, and ``path`` be a regular file or nothing (a folder or device
    there would be replaced).  When ``write`` raises, the temporary file is removed and ``path`` is
    untouched; when the rename succeeds, the temporary files that killed writes left in the folder
    are removed (see the module docstring).
    """
    handle, temporary = _create_temporary(path)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
            if fcntl is not None:  # renamed while still locked: no cleaner ever sees it unlocked
                os.replace(temporary, path)
        if fcntl is None:  # Windows renames only a closed file
            os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _remove_abandoned_temporaries(os.path.dirname(os.path.abspath(path)))


def _create_temporary(path: str) -> tuple[int, str]:
    """Open a new, uniquely named file beside ``path``, locked while it is written: ``(descriptor, name)``.

    Unlike ``tempfile.mkstemp`` (mode 0o600) the file gets the permissions a plain
    ``open`` would give (0o666 less the umask), or those of the file it will replace,
    so the new file stays readable by whoever could read the one before.
    """
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        temporary = os.path.join(folder, f".xdnn-{secrets.token_hex(8)}.npz.tmp")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        if _lock_as_writer(handle, temporary):
            break
        os.close(handle)
    try:
        os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
    except OSError:  # no file there yet (or one whose mode cannot be copied): keep the umask's
        pass
    return handle, temporary


def _lock_as_writer(handle: int, temporary: str) -> bool:
    """Take the exclusive lock that tells a cleaner this temporary file is being written; ``False``
    when a cleaner removed the file between its creation and the lock (then try another name).
    Where there are no locks (Windows, some network filesystems) the file is used unlocked."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError:  # no flock here: a cleaner cannot lock it either, so never removes it
        return True
    try:
        named = os.stat(temporary, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(handle)
    return (named.st_ino, named.st_dev) == (opened.st_ino, opened.st_dev)


def _remove_abandoned_temporaries(folder: str) -> None:
    """Remove the temporary files of writes killed midway in ``folder`` (see the module docstring):
    never a symbolic link, never a file a write in progress holds locked, and never an error."""
    try:
        with os.scandir(folder) as entries:
            found = [entry.path for entry in entries if _TEMPORARY.fullmatch(entry.name)]
    except OSError:
        return
    for temporary in found:
        try:
            _remove_abandoned_temporary(temporary)
        except OSError:  # gone already, or not ours to remove: cleanup never fails a write
            pass


def _remove_abandoned_temporary(temporary: str) -> None:
    """Remove ``temporary`` if no writer holds it: its lock is free (the writer died), and the name
    still leads to the regular file that was locked.  Without ``fcntl`` the removal is simply tried
    (Windows refuses to remove a file open for writing), on a file untouched for a minute: a writer
    there closes its file just before renaming it."""
    if fcntl is None:
        if time.time() - os.stat(temporary).st_mtime > _UNLOCKED_TEMPORARY_AGE:
            os.remove(temporary)
        return
    handle = os.open(temporary, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a write in progress (or no locks on this filesystem): leave it
            return
        opened, named = os.fstat(handle), os.stat(temporary, follow_symlinks=False)
        if stat.S_ISREG(opened.st_mode) and (opened.st_ino, opened.st_dev) == (named.st_ino, named.st_dev):
            os.remove(temporary)
    finally:
        os.close(handle)
