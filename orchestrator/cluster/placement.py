"""Which worker holds which host (pure logic: no Dask here, so it is tested on its own)."""

from __future__ import annotations

from collections.abc import Mapping


class Placement:
    """Hosts to workers: a host with a worker group goes to a worker offering that group as a Dask
    resource; others to any worker. Among the eligible workers, the one holding fewest hosts (ties:
    the first in address order), so shards stay balanced and the assignment is deterministic."""

    def __init__(self, workers: Mapping[str, set[str]]) -> None:
        self.workers = {address: set(resources) for address, resources in sorted(workers.items())}
        self.assigned: dict[str, str] = {}
        self.load: dict[str, int] = dict.fromkeys(self.workers, 0)

    def worker_for(self, host: str, group: str | None) -> str | None:
        """The worker address for `host` (assigned on first ask, then fixed); None when no worker
        offers its group."""
        address = self.assigned.get(host)
        if address is not None:
            return address
        eligible = [a for a, resources in self.workers.items() if group is None or group in resources]
        if not eligible:
            return None
        address = min(eligible, key=lambda a: self.load[a])
        self.assigned[host] = address
        self.load[address] += 1
        return address

    def shards(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {address: [] for address in self.workers}
        for host, address in self.assigned.items():
            out[address].append(host)
        return out
