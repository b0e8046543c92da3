"""Open the cluster a run asked for (--cluster, ORCH_CLUSTER, `cluster` in ansible.cfg's [orch]).

ADDRESS is a Dask scheduler address (`tcp://host:8786`, `tls://host:8786`; TLS certificates come
from Dask's own configuration, `distributed.comm.tls.*`), or `local:N` to start a LocalCluster of
N worker processes on this machine for the run (to try it out, and for the tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.errors import OptionsError, OrchError

if TYPE_CHECKING:
    from orchestrator.cluster.pool import ClusterConnectionPool


class ClusterError(OrchError):
    """The cluster cannot be used (no Dask installed, scheduler unreachable, no workers): exit 3,
    before any host is contacted."""


def open_pool(address: str, *, group_of: Callable[[str], str | None], threads: int) -> ClusterConnectionPool:
    """A ClusterConnectionPool on the cluster at `address`; its close_all() also closes the client
    (and the LocalCluster of `local:N`)."""
    workers = _local_workers(address)
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            "--cluster needs Dask distributed, which is not installed: pip install 'orch[cluster]'"
        ) from None
    from orchestrator.cluster.pool import ClusterConnectionPool

    # Dask logs worker comings and goings at INFO/WARNING; the run's own output says what matters.
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    if workers:
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
        target: Any = cluster  # a LocalCluster or a scheduler address: Client takes either
    else:
        target = address
    try:
        # The default client (Dask actors find theirs that way), talking to workers directly:
        # actor calls do not go through the scheduler.
        # How long to try reaching the scheduler: Dask's distributed.comm.timeouts.connect.
        client = distributed.Client(target, direct_to_workers=True)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"--cluster {address}: cannot reach the Dask scheduler ({exc})") from None

    def close() -> None:
        client.close()
        if cluster is not None:
            cluster.close()

    pool = ClusterConnectionPool(client, group_of=group_of, threads=threads, on_close=close)
    if not pool.shards:
        pool.close_all()
        raise ClusterError(f"--cluster {address}: the scheduler has no workers")
    return pool


def _local_workers(address: str) -> int:
    """N of `local:N` (0 for a scheduler address)."""
    if not address.startswith("local:"):
        return 0
    try:
        workers = int(address.split(":", 1)[1])
    except ValueError:
        raise OptionsError(f"--cluster {address!r}: local:N needs a number of workers") from None
    if workers < 1:
        raise OptionsError(f"--cluster {address!r}: local:N needs at least one worker")
    return workers
