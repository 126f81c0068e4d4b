"""`smsman-bot backup PATH`: a consistent copy of the live database, checked before it counts."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from bot.storage.files import private_file, private_folder

# Only the files this command names are ever pruned, not a copy someone put beside them.
DATED = re.compile(r"bot-\d{8}-\d{6}\.sqlite3")
# A running bot holds the write lock for milliseconds at a time; wait this long for a turn.
BUSY_TIMEOUT = 30.0


class BackupError(Exception):
    pass


def backup_name(now: float) -> str:
    return time.strftime("bot-%Y%m%d-%H%M%S.sqlite3", time.gmtime(now))


def backup(
    source: Path, target: Path | str, *, keep: int | None = None, now: float | None = None
) -> Path:
    """Copy `source` with sqlite's online backup API (the bot may keep running), check the copy
    with `PRAGMA integrity_check`, and only then give it its name. A folder `target` (one that
    exists, or a path ending in a slash) gets a dated file, and `keep` leaves only the newest
    that many of those there."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    into_folder = str(target).endswith(os.sep) or Path(target).is_dir()
    target = Path(target)
    if into_folder:
        private_folder(target)
    final = target / backup_name(time.time() if now is None else now) if into_folder else target
    live = source.resolve()
    if final.resolve() in {live, *(live.with_name(live.name + end) for end in ("-wal", "-shm"))}:
        raise BackupError(f"{final} is the live database itself")
    partial = final.with_name(final.name + ".part")
    partial.unlink(missing_ok=True)
    try:
        private_file(partial)
        _copy(source, partial)
        partial.replace(final)
        _sync_folder(final.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"sqlite: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    if into_folder and keep is not None:
        dated = sorted(p for p in target.iterdir() if DATED.fullmatch(p.name))
        for old in dated[:-keep]:
            old.unlink()
    return final


def _copy(source: Path, partial: Path) -> None:
    # mode=rw: never create an empty database where the real one should be.
    with (
        closing(sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=BUSY_TIMEOUT)) as live,
        closing(sqlite3.connect(partial)) as copy,
    ):
        live.backup(copy)
        # One self-contained file: no -wal beside it to lose on the way off the machine.
        copy.execute("PRAGMA journal_mode=DELETE")
        verdict = [row[0] for row in copy.execute("PRAGMA integrity_check")]
    if verdict != ["ok"]:
        raise BackupError(f"the copy failed its integrity check: {'; '.join(verdict[:5])}")
    with open(partial, "rb") as written:
        os.fsync(written.fileno())


def _sync_folder(folder: Path) -> None:
    """The rename itself survives a power cut only once the folder is written."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
