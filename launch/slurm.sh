#!/usr/bin/env bash
# Submit a training run to Slurm: checks the arguments, then sbatch launch/slurm.sbatch.
set -euo pipefail
source "$(dirname "$0")/common.sh"
usage() {
  cat <<USAGE
usage: launch/slurm.sh --logdir DIR [--nodes N] [--ranks-per-node K] [--time HH:MM:SS]
                       [--partition P] [--dry-run] [--] TRAIN_ARGS...
  --logdir DIR          run folder on storage every node sees (must not hold a run yet)
  --nodes N             nodes (default 1)
  --ranks-per-node K    MPI ranks per node, one per core (default 16, the paper's total on one node)
  --time T              wall-clock limit (default 24:00:00)
  --partition P         Slurm partition
  --dry-run             print the sbatch command instead of submitting
example: launch/slurm.sh --logdir /shared/logs/push-s0 --nodes 1 --ranks-per-node 16 -- \\
           --env_name FetchPush-v1 --note SAC+MUSIC --seed 0
USAGE
}
logdir=""; nodes=1; per_node=16; time_limit=24:00:00; partition=""; dry=0
while (( $# )); do
  case $1 in
    -h|--help) usage; exit 0;;
    --logdir) [[ $# -ge 2 ]] || die "--logdir needs a folder"; logdir=$2; shift 2;;
    --nodes) [[ $# -ge 2 ]] || die "--nodes needs a value"; nodes=$2; shift 2;;
    --ranks-per-node) [[ $# -ge 2 ]] || die "--ranks-per-node needs a value"; per_node=$2; shift 2;;
    --time) [[ $# -ge 2 ]] || die "--time needs a value"; time_limit=$2; shift 2;;
    --partition) [[ $# -ge 2 ]] || die "--partition needs a value"; partition=$2; shift 2;;
    --dry-run) dry=1; shift;;
    --) shift; break;;
    *) break;;
  esac
done
[[ -n $logdir ]] || die "missing --logdir (a folder on shared storage)"
positive_int "--nodes" "$nodes"
positive_int "--ranks-per-node" "$per_node"
[[ $time_limit =~ ^([0-9]+-)?[0-9]{1,2}(:[0-9]{2}){0,2}$ ]] || die "--time must look like HH:MM:SS, got '$time_limit'"
if [[ -d $logdir ]] && [[ -n $(ls -A "$logdir") ]]; then die "--logdir $logdir already holds files"; fi
cmd=(sbatch --nodes "$nodes" --ntasks-per-node "$per_node" --time "$time_limit"
     --export "ALL,MUSIC_LOGDIR=$logdir,MUSIC_REPO=$REPO")
[[ -n $partition ]] && cmd+=(--partition "$partition")
cmd+=("$REPO/launch/slurm.sbatch" "$@")
if (( dry )); then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node (or use --dry-run)"
exec "${cmd[@]}"
