#!/usr/bin/env bash
# Run every benchmark on an otherwise idle machine, then write benchmarks/RESULTS.md.
#   bash benchmarks/run_all.sh          (about 15 minutes on 2 cores before K = 16 joined workers.py)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export TF_CPP_MIN_LOG_LEVEL=2
$PY benchmarks/epoch.py --variants DDPG SAC SAC+MUSIC DIAYN
if $PY -c "import stable_baselines3" 2>/dev/null; then
  $PY benchmarks/sb3.py
else
  echo "stable-baselines3 not installed (pip install -r benchmarks/requirements.txt): skipping (c)"
fi
$PY benchmarks/memory.py
$PY benchmarks/scaling.py --ranks 1 2 4 8
$PY benchmarks/workers.py --workers 1 2 4 8 16
if [ -n "${MUSIC_ORIGINAL:-}" ]; then $PY benchmarks/vs_original.py; else echo "MUSIC_ORIGINAL not set (a checkout of ruizhaogit/music): skipping (g)"; fi
$PY benchmarks/abort_output.py --runs 150 --json benchmarks/results/abort_output.json
$PY benchmarks/report.py
