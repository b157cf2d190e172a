"""Where a broken stream's recovery state waits for a later process: one small JSON file per stream.

Strategy. A ``RecoveryStore`` is a directory. ``save`` writes ``<recovery_id>.json`` atomically
(a temporary file in the same directory, flushed and fsynced, then ``os.replace``), so a reader
never sees half a file even if the writer dies mid-write; files are created ``0600`` because
they hold the conversation. Keys never reach the disk: the caller passes the secret strings of
its request (header values, ``?key=`` queries, URL passwords) and ``save`` refuses to write a
record in which any of them still appears, after scrubbing them out of the text. Each record
carries an absolute expiry (``expires_at``, wall-clock seconds): providers forget resumable
state after a while (OpenAI keeps a background response for about ten minutes), and an expired
record is deleted when it is read and reported as such.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core import dumps_wire
from ..model import LocalProtocolError

__all__ = ["RecoveryStore", "RecoveryNotFoundError", "DEFAULT_TTL"]

DEFAULT_TTL = 3600.0
"""Seconds a record is kept by default. Long enough for a user to rerun a command after a
network outage; a provider may forget its side sooner (the resume then fails with a clear
error naming the provider's answer)."""

# Recovery ids are the stream's uuid4 hex: checking the shape keeps a crafted id from naming a
# file outside the store (``../x``).
_ID = re.compile(r"^[0-9a-f]{32}$")


class RecoveryNotFoundError(LocalProtocolError):
    """No usable recovery state under that id: unknown to the store, expired, or unreadable."""

    def __init__(self, message: str, *, recovery_id: str, expired: bool = False) -> None:
        super().__init__(message)
        self.recovery_id = recovery_id
        self.expired = expired


class RecoveryStore:
    """A directory of recovery records (created on first write)."""

    def __init__(self, directory: str | os.PathLike[str], *, ttl: float = DEFAULT_TTL) -> None:
        self.directory = Path(directory)
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"RecoveryStore({str(self.directory)!r})"

    def path_for(self, recovery_id: str) -> Path:
        if not isinstance(recovery_id, str) or not _ID.match(recovery_id):
            raise RecoveryNotFoundError(
                f"{recovery_id!r} is not a recovery id (32 lowercase hex digits, as "
                "ChatStream.recovery_id gives); check what you passed",
                recovery_id=str(recovery_id),
            )
        return self.directory / f"{recovery_id}.json"

    def save(self, record: dict[str, Any], *, secrets: Sequence[str] = ()) -> Path:
        """Write ``record`` (which must hold ``recovery_id``) atomically; stamps ``expires_at``
        unless present. ``secrets`` are scrubbed and then checked absent."""
        path = self.path_for(record["recovery_id"])
        record.setdefault("expires_at", time.time() + self.ttl)
        text = dumps_wire(record)
        for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
            text = text.replace(secret, "<redacted>")
        if any(s and s in text for s in secrets):  # pragma: no cover (scrubbing above)
            raise LocalProtocolError("refusing to store recovery state that still holds a secret")
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.directory)
        try:
            if hasattr(os, "fchmod"):  # (mkstemp already creates 0600 on POSIX; be explicit)
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path

    def load(self, recovery_id: str, *, now: float | None = None) -> dict[str, Any]:
        """The record saved under ``recovery_id``; ``RecoveryNotFoundError`` if there is none,
        it expired (the file is then removed) or it cannot be read."""
        path = self.path_for(recovery_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RecoveryNotFoundError(
                f"no recovery state for {recovery_id} in {self.directory}: the stream completed "
                "(its state is removed then), it was never stored there, or another store "
                "directory was used",
                recovery_id=recovery_id,
            ) from None
        except OSError as exc:
            raise RecoveryNotFoundError(
                f"cannot read the recovery state for {recovery_id} ({exc.strerror})",
                recovery_id=recovery_id,
            ) from None
        try:
            record = json.loads(text)
        except ValueError:
            raise RecoveryNotFoundError(
                f"the recovery state file {path} is damaged (not JSON); delete it",
                recovery_id=recovery_id,
            ) from None
        if not isinstance(record, dict) or record.get("recovery_id") != recovery_id:
            raise RecoveryNotFoundError(
                f"the recovery state file {path} is not a sansstream recovery record; delete it",
                recovery_id=recovery_id,
            )
        expires = record.get("expires_at")
        current = time.time() if now is None else now
        if isinstance(expires, int | float) and current >= expires:
            self.delete(recovery_id)
            raise RecoveryNotFoundError(
                f"the recovery state for {recovery_id} expired {current - expires:.0f}s ago "
                "and was removed; the answer has to be requested again",
                recovery_id=recovery_id,
                expired=True,
            )
        return record

    def delete(self, recovery_id: str) -> None:
        try:
            self.path_for(recovery_id).unlink()
        except (FileNotFoundError, RecoveryNotFoundError):
            pass

    def ids(self) -> list[str]:
        """Ids of the records in the store (expired ones included until read)."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json") if _ID.match(p.stem))
