"""Background workers kept in step with what the emulated services want running.

Firehose's MSK-sourced delivery streams and Lambda's MSK event source mappings both keep one
thread per wanted thing (a stream, a mapping): :class:`WorkerThread` is such a thread, and
:class:`WorkerSet` starts one for each new wanted key and stops those no longer wanted, every
few seconds and on ``sync()``.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Generic, Protocol, TypeVar

_Status_co = TypeVar("_Status_co", covariant=True)
_Item = TypeVar("_Item")
_Status = TypeVar("_Status")


class WorkerThread(ABC):
    """A daemon thread running :meth:`_run` until :meth:`stop` sets ``_stop``."""

    def __init__(self, thread_name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    @abstractmethod
    def _run(self) -> None: ...

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class Worker(Protocol[_Status_co]):
    @property
    def status(self) -> _Status_co: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout: float) -> None: ...


class WorkerSet(ABC, Generic[_Item, _Status]):
    """Keeps one worker running per key of :meth:`wanted`, syncing every ``sync_seconds``."""

    def __init__(
        self, thread_name: str, sync_seconds: float, log: logging.Logger, log_name: str
    ) -> None:
        self._workers: dict[str, Worker[_Status]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sync_seconds = sync_seconds
        self._log = log
        self._log_name = log_name
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)

    @abstractmethod
    def wanted(self) -> dict[str, _Item]:
        """What should have a worker now, by key."""

    @abstractmethod
    def worker(self, item: _Item) -> Worker[_Status] | None:
        """A new, unstarted worker for ``item``; None to try again at the next sync."""

    def start(self) -> None:
        self._thread.start()

    def sync(self) -> None:
        """Start workers for new wanted keys; stop those no longer wanted."""
        wanted = self.wanted()
        with self._lock:
            for key in list(self._workers):
                if key not in wanted:
                    self._workers.pop(key).stop()
            for key, item in wanted.items():
                if key in self._workers:
                    continue
                worker = self.worker(item)
                if worker is None:
                    continue
                self._workers[key] = worker
                worker.start()

    def status(self) -> list[_Status]:
        with self._lock:
            return [worker.status for worker in self._workers.values()]

    def _loop(self) -> None:
        while not self._stop.wait(self._sync_seconds):
            try:
                self.sync()
            except Exception:
                self._log.exception("%s: sync failed", self._log_name)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.join(timeout=5)
