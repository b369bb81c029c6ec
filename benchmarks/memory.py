"""Benchmark (d): peak resident memory of one rank with the default 1e6-transition replay buffer.

    .venv/bin/python benchmarks/memory.py [--dtype float32 float64] [--out DIR]

For each storage dtype, a fresh process builds the SAC+MUSIC agent for FetchPush-v4 with
the default buffer (1e6 transitions = 20,000 episodes), fills every slot with episodes
(the memory of np.empty is only committed when written), and reports the buffer's size
and the process's peak RSS (ru_maxrss) next to the RSS before the buffer was filled.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from mpi4py import MPI
from music.config import default_params, load_params_file, params_file
from music.envs import episode_length, make_env
from music.experiment import build_workers
params = default_params(); params.update(load_params_file(params_file("FetchPush-v1", "SAC+MUSIC")))
params.update(env_name="FetchPush-v1", replay_dtype=sys.argv[1])
env = make_env("FetchPush-v1"); params["T"] = episode_length(env)
policy, worker, evaluator = build_workers(params, env, 0, MPI.COMM_WORLD)
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
ep = worker.generate_rollouts(np.zeros((2, 3)), np.ones((2, 1)))
buf = policy.buffer
for start in range(0, buf.size, 2):  # write every slot (store_episode without the normalizer)
    buf.store_episode(ep)
nbytes = sum(a.nbytes for a in buf.buffers.values())
print(json.dumps({"dtype": sys.argv[1], "episodes": buf.size, "transitions": buf.get_current_size(),
                  "buffer_mb": nbytes / 2**20, "rss_before_fill_mb": rss_before,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args()
    repo = str(Path(__file__).resolve().parent.parent)
    rows = []
    for dtype in args.dtype:
        out = subprocess.run([sys.executable, "-c", CHILD, dtype, repo], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    from provenance import write_result

    written = write_result(args.out, "memory", rows)
    print(f"wrote {written} (this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} kB)")


if __name__ == "__main__":
    main()
