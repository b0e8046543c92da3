"""Run a play's SSH work on Dask workers: `orch play --cluster ADDRESS`.

The controller keeps everything that decides what happens (the play loop, variables, templating,
handlers, failure thresholds, the live view, recap, --json and the run record: the engine runs
unchanged). What moves to the workers is what grows with the number of hosts: the SSH
connections and their persistent shells. The seam is the executor's connection pool: in cluster
mode `ClusterConnectionPool` (pool.py) hands out proxies whose every call (run a script, move a
file) goes to the `ShardExecutor` actor (shard.py) on the worker that holds the host's shard.

Shards: one per worker; a host goes to a worker whose Dask resources include the value of its
inventory variable `orch_cluster_worker_group` (any worker when unset), the least loaded first
(placement.py). Secrets in a host's connection settings (passwords, key paths, become passwords)
and the scripts of its tasks travel only to that host's worker.

Nothing here imports Dask until a cluster is asked for (`pip install orch[cluster]`).
"""

from __future__ import annotations

PLACEMENT_VAR = "orch_cluster_worker_group"
