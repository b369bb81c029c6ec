#!/usr/bin/env bash
# Train on this machine with N MPI ranks (default: one per core).
set -euo pipefail
source "$(dirname "$0")/common.sh"
usage() {
  cat <<USAGE
usage: launch/local.sh [-n RANKS] [--dry-run] [--] TRAIN_ARGS...
  -n RANKS    MPI ranks (default: $(nproc), the cores of this machine; more ranks than
              cores oversubscribe and are slower per rank)
  --dry-run   print the command instead of running it
  TRAIN_ARGS  passed to python -m music.train, e.g. --env_name FetchPush-v1 --note SAC+MUSIC
example: launch/local.sh -n 8 -- --env_name FetchPush-v1 --note SAC+MUSIC --logging True
USAGE
}
ranks=$(nproc); dry=0
while (( $# )); do
  case $1 in
    -h|--help) usage; exit 0;;
    -n) [[ $# -ge 2 ]] || die "-n needs a value"; ranks=$2; shift 2;;
    --dry-run) dry=1; shift;;
    --) shift; break;;
    *) break;;
  esac
done
positive_int RANKS "$ranks"
mpiexec=$(find_mpiexec) || die "no mpiexec found: install the mpich extra (make venv) or a system MPI"
python=$(find_python)
cmd=("$mpiexec" -n "$ranks")
if [[ $(mpi_flavour "$mpiexec") == openmpi ]]; then
  (( EUID == 0 )) && cmd+=(--allow-run-as-root)
  (( ranks > $(nproc) )) && cmd+=(--oversubscribe)
fi
cmd+=("$python" -m music.train "$@")
if (( dry )); then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
cd "$REPO"
exec "${cmd[@]}"
