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
measured=0 skipped=0 found=0
for run in "$RESULTS"/*/SAC+MUSIC/seed*; do
    [[ $run == *.partial ]] && continue
    [ -e "$run/sweep.json" ] || continue  # not finished
    found=$((found + 1))
    task=$(basename "$(dirname "$(dirname "$run")")")
    seed=${run##*seed}
    policy=$run/policy_latest.pkl  # ours: the final policy (see docs/deviations.md)
    for kind in untrained trained; do
        out=$run/motion_$kind.csv
        if [ -e "$out" ]; then
            echo "skipped $out: already measured (delete it to measure again)"
            skipped=$((skipped + 1))
            continue
        fi
        extra=()
        [ "$kind" = trained ] && extra=(--policy "$policy")
        $PY experiments/measure_untrained.py --env_name "$task" --note SAC+MUSIC --seed "$seed" \
            --mine "$policy" "${extra[@]}" --out "$out"
        measured=$((measured + 1))
    done
done
echo "object motion: $found finished SAC+MUSIC runs under $RESULTS; $measured measured, $skipped skipped"
