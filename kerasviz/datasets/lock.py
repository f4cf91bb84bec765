"""One job per store: a lock file naming the process that writes it.

The lock is `<store>/kerasviz.lock`, created atomically (`O_CREAT | O_EXCL`)
and holding the process id, host name, start time and a random token as
JSON. A second job on the same store is refused while the first one's
process is alive. A lock whose process is gone (a job killed with
`kill -9`, a crashed machine's job restarted on the same host) is stale: the
next job takes it over with a warning and resumes. A lock held on another
host cannot be checked from here and is never taken over: the message names
the file to delete once that job is known to be dead.

For fsspec URLs (object stores) the lock is best effort: object stores
cannot create a file only if it is absent, so two jobs started at the same
instant may both proceed.

Example:

```python
with JobLock("maps.zarr"):
    ...  # write the store
```
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
import warnings

from kerasviz.datasets.store import LOCK_NAME, is_url
from kerasviz.errors import StoreError


class JobLock:
    """The lock of the store at `path`, as a context manager.

    Args:
        path: the store's local path or fsspec URL.
        storage_options: fsspec options for a URL. Defaults to `None`.

    Raises:
        StoreError: (on entering) if a live job holds the lock.
    """

    def __init__(self, path: str, storage_options: dict | None = None):
        self.path = path
        self.lock_path = f"{path.rstrip('/')}/{LOCK_NAME}"
        self.storage_options = storage_options or {}
        self.record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "token": uuid.uuid4().hex,
        }

    def __enter__(self) -> JobLock:
        if is_url(self.path):
            self._acquire_remote()
        else:
            self._acquire_local()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def check(self) -> None:
        """Raise what entering would raise for a live holder, without taking the lock (local paths).

        Raises:
            StoreError: if a live job holds the lock.
        """
        holder = None if is_url(self.path) else self._read_local()
        if holder is not None and not self._is_stale(holder):
            raise StoreError(self._busy_message(holder))

    # -- local files -------------------------------------------------------------------------
    def _acquire_local(self) -> None:
        os.makedirs(self.path, exist_ok=True)
        for _ in range(2):  # second try after removing a stale lock
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read_local()
                if holder is not None and not self._is_stale(holder):
                    raise StoreError(self._busy_message(holder)) from None
                warnings.warn(self._stale_message(holder), RuntimeWarning, stacklevel=4)
                try:
                    os.remove(self.lock_path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self.record, f)
            return
        raise StoreError(
            f"Could not take the lock {self.lock_path!r}: another job took it at the same moment. "
            f"Received: store={self.path!r}"
        )

    def _read_local(self) -> dict | None:
        try:
            with open(self.lock_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None  # unreadable or half written: its writer died before finishing it

    def _is_stale(self, holder: dict) -> bool:
        if holder.get("host") != self.record["host"]:
            return False  # cannot tell from here
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        except (KeyError, TypeError, ValueError, OverflowError):
            return True
        return False

    # -- fsspec URLs (best effort) -------------------------------------------------------------
    def _fs(self):
        import fsspec

        fs, path = fsspec.core.url_to_fs(self.lock_path, **self.storage_options)
        return fs, path

    def _acquire_remote(self) -> None:
        fs, path = self._fs()
        if fs.exists(path):
            try:
                holder = json.loads(fs.cat_file(path))
            except Exception:  # noqa: BLE001
                holder = None
            if holder is not None and not self._is_stale(holder):
                raise StoreError(self._busy_message(holder))
            warnings.warn(self._stale_message(holder), RuntimeWarning, stacklevel=4)
        fs.pipe_file(path, json.dumps(self.record).encode("utf-8"))

    # -- release ---------------------------------------------------------------------------------
    def release(self) -> None:
        """Remove the lock if it is still this job's."""
        try:
            if is_url(self.path):
                fs, path = self._fs()
                if json.loads(fs.cat_file(path)).get("token") == self.record["token"]:
                    fs.rm_file(path)
            elif (self._read_local() or {}).get("token") == self.record["token"]:
                os.remove(self.lock_path)
        except Exception:  # noqa: BLE001 - nothing to release
            pass

    # -- messages ----------------------------------------------------------------------------------
    def _busy_message(self, holder: dict) -> str:
        where = holder.get("host")
        elsewhere = "" if where == self.record["host"] else (
            f" It runs on another host, so kerasviz cannot tell whether it is still alive: if it "
            f"is not, delete {self.lock_path!r} and rerun."
        )
        return (
            f"Another job is writing the store {self.path!r} (process {holder.get('pid')} on "
            f"{where}, started {holder.get('started')}); two jobs on one store would write the "
            f"same chunks. Wait for it to finish, or write to another path.{elsewhere} "
            f"Received: store={self.path!r}"
        )

    def _stale_message(self, holder: dict | None) -> str:
        if holder is None:
            return f"Taking over the unreadable lock {self.lock_path!r} of an interrupted job."
        return (
            f"Taking over the lock of process {holder.get('pid')} on {holder.get('host')} "
            f"(started {holder.get('started')}), which no longer runs; resuming its store "
            f"{self.path!r}."
        )
