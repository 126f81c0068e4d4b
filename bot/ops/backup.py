"""`smsman-bot backup PATH`: a consistent copy of the live database, checked before it counts."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

PATTERN = "bot-*.sqlite3"
# A running bot holds the write lock for milliseconds at a time; wait this long for a turn.
BUSY_TIMEOUT = 30.0


class BackupError(Exception):
    pass


def backup_name(now: float) -> str:
    return time.strftime("bot-%Y%m%d-%H%M%S.sqlite3", time.gmtime(now))


def backup(
    source: Path, target: Path, *, keep: int | None = None, now: float | None = None
) -> Path:
    """Copy `source` with sqlite's online backup API (the bot may keep running), check the copy
    with `PRAGMA integrity_check`, and only then give it its name. A directory `target` gets a
    dated file, and `keep` leaves only the newest that many there."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    into_directory = target.is_dir()
    final = target / backup_name(time.time() if now is None else now) if into_directory else target
    partial = final.with_name(final.name + ".part")
    partial.unlink(missing_ok=True)
    try:
        # mode=rw: never create an empty database where the real one should be.
        with (
            closing(
                sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=BUSY_TIMEOUT)
            ) as live,
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
        partial.replace(final)
    except sqlite3.Error as exc:
        raise BackupError(f"sqlite: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    if into_directory and keep is not None:
        for old in sorted(target.glob(PATTERN), reverse=True)[keep:]:
            old.unlink()
    return final
