"""Resident memory of server processes, read from /proc (Linux; elsewhere nothing).

`members` lists the processes of a server's process group (uvicorn starts in a new
session, so its workers share its group); `rss_mib` reads one's VmRSS; `Sampler`
samples the largest worker's VmRSS in a thread while a load runs.
"""

import statistics
import threading
from pathlib import Path
from types import TracebackType


def members(group: int) -> list[int]:
    """The pids in a process group, the leader first."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == group:
                pids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return sorted(pids, key=lambda pid: (pid != group, pid))


def workers(group: int) -> list[int]:
    """The processes that serve requests: the leader alone, or its children if any."""
    pids = members(group)
    return pids[1:] if len(pids) > 1 else pids


def rss_mib(pid: int) -> float | None:
    """VmRSS of a process in MiB, None if it is gone (or not Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def largest_worker_mib(group: int) -> float:
    """VmRSS of the largest worker of a server, MiB (0 if none is readable)."""
    return max((rss_mib(pid) or 0.0 for pid in workers(group)), default=0.0)


class Sampler:
    """Sample the largest worker's VmRSS every `interval` s in a thread, in a `with` block."""

    def __init__(self, group: int, interval: float = 0.1) -> None:
        self.group = group
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._pids: list[int] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = [rss_mib(pid) for pid in self._pids]
            readable = [size for size in sizes if size is not None]
            if readable:
                self.samples.append(max(readable))
            self._stop.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._pids = workers(self.group)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def median(self) -> float:
        """The median sample, MiB (0 without samples)."""
        return statistics.median(self.samples) if self.samples else 0.0

    @property
    def peak(self) -> float:
        """The largest sample, MiB (0 without samples)."""
        return max(self.samples, default=0.0)
