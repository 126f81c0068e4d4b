"""Files that hold people's data are the bot's user's alone: 0600, whatever the umask."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
# sqlite creates these beside a database with the database file's own mode.
COMPANIONS = ("-wal", "-shm", "-journal")


def private_folder(path: Path) -> None:
    """Create the folder (and missing parents) for the bot alone; an existing one is the
    owner's to set."""
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it is missing, and take group and other
    permissions off it (and off its sqlite companions) if an older version left them."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE))
    for file in (path, *(path.with_name(path.name + end) for end in COMPANIONS)):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                file.chmod(mode & ~0o077)
        except FileNotFoundError:
            continue
        except PermissionError as exc:
            # Someone else's file (root ran the bot once?): readable by others, say so.
            log.warning("cannot make %s private: %s", file, exc)
