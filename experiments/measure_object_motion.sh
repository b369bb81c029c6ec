#!/usr/bin/env bash
# Does MUSIC alone move the object? For every finished SAC+MUSIC run of a sweep, measure its
# final policy and the untrained policy it started from (same seed, fresh weights) for 100
# episodes per mode, both scored by the run's trained MINE. Writes motion_untrained.csv and
# motion_trained.csv into the run folder; runs already measured are skipped.
#
#   bash experiments/measure_object_motion.sh [RESULTS_DIR]   (default experiments/results/task_reward)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
RESULTS=${1:-experiments/results/task_reward}
shopt -s nullglob
for run in "$RESULTS"/*/SAC+MUSIC/seed*; do
    [[ $run == *.partial ]] && continue
    [ -e "$run/sweep.json" ] || continue  # not finished
    task=$(basename "$(dirname "$(dirname "$run")")")
    seed=${run##*seed}
    policy=$run/policy_latest.pkl
    if [ ! -e "$run/motion_untrained.csv" ]; then
        $PY experiments/measure_untrained.py --env_name "$task" --note SAC+MUSIC --seed "$seed" \
            --mine "$policy" --out "$run/motion_untrained.csv"
    fi
    if [ ! -e "$run/motion_trained.csv" ]; then
        $PY experiments/measure_untrained.py --env_name "$task" --note SAC+MUSIC --seed "$seed" \
            --mine "$policy" --policy "$policy" --out "$run/motion_trained.csv"
    fi
done
