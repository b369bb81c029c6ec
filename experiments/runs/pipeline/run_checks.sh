#!/usr/bin/env bash
# The runs that check the training pipeline (issue: training and evaluation pipeline).
# Usage: bash experiments/runs/pipeline/run_checks.sh   (from the repository root)
# Each run writes to experiments/runs/pipeline/<name>/; console output to <name>.out.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=experiments/runs/pipeline
PY=.venv/bin/python
MPI=".venv/bin/mpirun -np 2"
run() {  # name, command...
  local name=$1; shift
  rm -rf "$OUT/$name"
  echo "[$(date +%T)] start $name: $*"
  local t0=$SECONDS
  "$@" --logdir "$OUT/$name" > "$OUT/$name.out" 2>&1
  echo "[$(date +%T)] end $name: exit $? after $((SECONDS - t0)) s"
}
only=${1:-all}
if [[ $only == all || $only == reach ]]; then
  run reach_ddpg_her $PY -m music.train --env_name FetchReach-v4 --note DDPG+HER --n_epochs 10 --n_cycles 10
fi
if [[ $only == all || $only == music3 ]]; then
  run push_sac_music_3ep $MPI $PY -m music.train --env_name FetchPush-v1 --note SAC+MUSIC --n_epochs 3 --n_cycles 10
fi
if [[ $only == all || $only == chain ]]; then
  run chain_pretrain $PY -m music.train --env_name FetchPush-v1 --note SAC+MUSIC --n_epochs 2 --n_cycles 10
  $PY -m music.save_weight $OUT/chain_pretrain/policy_1.pkl
  for v in SAC+MUSIC-r SAC+MUSIC-p SAC+MUSIC-f; do
    run chain_$v $PY -m music.train --env_name FetchPush-v1 --note $v --n_epochs 1 --n_cycles 10 \
      --param load_weight="\"$OUT/chain_pretrain/policy_1.pkl\""
  done
fi
if [[ $only == all || $only == long ]]; then
  run push_ddpg_her_20ep $MPI $PY -m music.train --env_name FetchPush-v1 --note DDPG+HER --n_epochs 20
  run push_sac_music_10ep $MPI $PY -m music.train --env_name FetchPush-v1 --note SAC+MUSIC --n_epochs 10
fi
