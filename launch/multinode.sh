#!/usr/bin/env bash
# Train with MPI ranks spread over several machines listed in a hostfile.
set -euo pipefail
source "$(dirname "$0")/common.sh"
usage() {
  cat <<USAGE
usage: launch/multinode.sh -f HOSTFILE -n RANKS [--ppn N] [--launcher-exec PATH] [--dry-run] [--] TRAIN_ARGS...
  -f HOSTFILE          one host (name or address) per line; MPICH's 'host:slots' works too
  -n RANKS             total MPI ranks
  --ppn N              ranks per host (default: RANKS / hosts, rounded up)
  --launcher-exec P    command hydra uses instead of ssh to start processes on a host
                       (called as 'P HOST COMMAND'); also used for the reachability check
  --dry-run            check the hosts and print the command, do not run it
Every host must have this repository at the same path with its .venv, and reach the
others over TCP. The log folder (--logdir) should be on storage shared by all hosts
(only rank 0 writes, but resuming and plotting read it).
MPICH (the default mpich wheel):  mpiexec -f HOSTFILE -n RANKS -ppn N python -m music.train ...
Open MPI equivalent:              mpirun --hostfile HOSTFILE -np RANKS --map-by ppr:N:node python -m music.train ...
example: launch/multinode.sh -f hosts -n 32 --ppn 16 -- --env_name FetchPush-v1 --note SAC+MUSIC --logdir /shared/logs/push
USAGE
}
hostfile=""; ranks=""; ppn=""; launcher=""; dry=0
while (( $# )); do
  case $1 in
    -h|--help) usage; exit 0;;
    -f) [[ $# -ge 2 ]] || die "-f needs a hostfile"; hostfile=$2; shift 2;;
    -n) [[ $# -ge 2 ]] || die "-n needs a value"; ranks=$2; shift 2;;
    --ppn) [[ $# -ge 2 ]] || die "--ppn needs a value"; ppn=$2; shift 2;;
    --launcher-exec) [[ $# -ge 2 ]] || die "--launcher-exec needs a path"; launcher=$2; shift 2;;
    --dry-run) dry=1; shift;;
    --) shift; break;;
    *) break;;
  esac
done
[[ -n $hostfile ]] || die "missing -f HOSTFILE (one host per line)"
[[ -f $hostfile ]] || die "hostfile $hostfile does not exist"
[[ -n $ranks ]] || die "missing -n RANKS"
positive_int RANKS "$ranks"
mapfile -t hosts < <(sed -e 's/#.*//' -e 's/:.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$hostfile")
(( ${#hosts[@]} > 0 )) || die "hostfile $hostfile lists no host"
[[ -n $ppn ]] || ppn=$(( (ranks + ${#hosts[@]} - 1) / ${#hosts[@]} ))
positive_int "--ppn" "$ppn"
(( ppn * ${#hosts[@]} >= ranks )) || die "$ranks ranks do not fit on ${#hosts[@]} hosts with --ppn $ppn"

# Reach every host before starting a long job.
for host in "${hosts[@]}"; do
  if [[ -n $launcher ]]; then
    timeout 20 "$launcher" "$host" true >/dev/null 2>&1 || die "host $host is unreachable through $launcher"
  else
    timeout 20 ssh -o BatchMode=yes -o ConnectTimeout=10 "$host" true >/dev/null 2>&1 \
      || die "host $host is unreachable over ssh (passwordless ssh to every host is needed)"
  fi
done

mpiexec=$(find_mpiexec) || die "no mpiexec found"
python=$(find_python)
case $(mpi_flavour "$mpiexec") in
  openmpi) cmd=("$mpiexec" --hostfile "$hostfile" -np "$ranks" --map-by "ppr:$ppn:node")
           (( EUID == 0 )) && cmd+=(--allow-run-as-root)
           [[ -n $launcher ]] && cmd+=(--mca plm_rsh_agent "$launcher");;
  *)       cmd=("$mpiexec" -f "$hostfile" -n "$ranks" -ppn "$ppn")
           [[ -n $launcher ]] && cmd+=(-launcher ssh -launcher-exec "$launcher");;
esac
cmd+=("$python" -m music.train "$@")
if (( dry )); then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
cd "$REPO"
exec "${cmd[@]}"
