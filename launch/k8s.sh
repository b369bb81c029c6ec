#!/usr/bin/env bash
# Render launch/k8s/mpijob.yaml for one training run and submit it with kubectl.
set -euo pipefail
source "$(dirname "$0")/common.sh"
usage() {
  cat <<USAGE
usage: launch/k8s.sh --image IMAGE:TAG --pvc CLAIM [--name NAME] [--workers N] [--ranks-per-worker K]
                     [--memory 16Gi] [--dry-run] [--] TRAIN_ARGS...
  --image IMAGE:TAG     the music-tf2 image (built from the Dockerfile), with an explicit tag
  --pvc CLAIM           PersistentVolumeClaim mounted at /work/logs (shared by launcher and workers)
  --name NAME           MPIJob name and log folder (default music-<timestamp>)
  --workers N           worker pods (default 2); --ranks-per-worker K ranks each (default 8)
  --dry-run             print the manifest instead of applying it
Needs the Kubeflow mpi-operator (v2beta1) in the cluster.
USAGE
}
image=""; pvc=""; name="music-$(date +%Y%m%d-%H%M%S)"; workers=2; per_worker=8; memory=16Gi; dry=0
while (( $# )); do
  case $1 in
    -h|--help) usage; exit 0;;
    --image) [[ $# -ge 2 ]] || die "--image needs a value"; image=$2; shift 2;;
    --pvc) [[ $# -ge 2 ]] || die "--pvc needs a value"; pvc=$2; shift 2;;
    --name) [[ $# -ge 2 ]] || die "--name needs a value"; name=$2; shift 2;;
    --workers) [[ $# -ge 2 ]] || die "--workers needs a value"; workers=$2; shift 2;;
    --ranks-per-worker) [[ $# -ge 2 ]] || die "--ranks-per-worker needs a value"; per_worker=$2; shift 2;;
    --memory) [[ $# -ge 2 ]] || die "--memory needs a value"; memory=$2; shift 2;;
    --dry-run) dry=1; shift;;
    --) shift; break;;
    *) break;;
  esac
done
[[ -n $image ]] || die "missing --image IMAGE:TAG"
[[ ${image##*/} == *:* ]] || die "image '$image' has no tag; give an explicit one (e.g. music-tf2:0.1.0), not an implicit latest"
[[ -n $pvc ]] || die "missing --pvc (a PersistentVolumeClaim for the logs)"
positive_int "--workers" "$workers"
positive_int "--ranks-per-worker" "$per_worker"
[[ $name =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "--name must be a DNS label (lowercase, digits, -), got '$name'"
train_args=""
for a in "$@"; do train_args+="${train_args:+, }\"${a//\"/\\\"}\""; done
manifest=$(JOB_NAME=$name IMAGE=$image PVC=$pvc WORKERS=$workers RANKS_PER_WORKER=$per_worker MEMORY=$memory \
  TOTAL_RANKS=$((workers * per_worker)) TRAIN_ARGS=$train_args "$(find_python)" - "$REPO/launch/k8s/mpijob.yaml" <<'PY'
import os, string, sys
print(string.Template(open(sys.argv[1]).read()).substitute(os.environ))
PY
)
if (( dry )); then echo "$manifest"; exit 0; fi
command -v kubectl >/dev/null || die "kubectl not found (or use --dry-run)"
echo "$manifest" | kubectl apply -f -
