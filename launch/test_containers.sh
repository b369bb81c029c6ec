#!/usr/bin/env bash
# The image as a cluster, as far as one machine allows: a launcher and two worker containers
# on a Docker network, the launcher running mpirun over SSH into the workers the way a
# Kubeflow MPIJob does (hostfile in /etc/mpi, keys mounted read-only at /home/music/.ssh,
# workers running the image's non-root sshd on port 2222, everything as uid 1000), plus the
# single-container command of docs/cluster.md and an unwritable log folder.
set -euo pipefail
source "$(dirname "$0")/common.sh"
usage() {
  cat <<USAGE
usage: launch/test_containers.sh [--image TAG] [--build] [--keep]
  --image TAG   the image to test (default music-tf2:test)
  --build       docker build --network host -t TAG . first (the layers are cached)
  --keep        leave the containers, network and folders for inspection
Checks: (1) a log folder the container's user cannot write stops the run with exit 2 within
60 s; (2) the single-container command (2 ranks) exits 0, both ranks end with identical
weights, the files are owned by uid 1000; (3) 4 ranks in 2 worker containers started by
mpirun in a third: exit 0, ranks on both workers, identical weights on all 4, each worker
received MPI traffic (> 300 kB) on its network interface, files owned by uid 1000.
USAGE
}
image=music-tf2:test; build=0; keep=0
while (( $# )); do
  case $1 in
    -h|--help) usage; exit 0;;
    --image) [[ $# -ge 2 ]] || die "--image needs a value"; image=$2; shift 2;;
    --build) build=1; shift;;
    --keep) keep=1; shift;;
    *) die "unknown argument $1 (see --help)";;
  esac
done
command -v docker >/dev/null || die "no docker command"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (start one, e.g. sudo ../shared/tools/docker-sandbox.sh start)"
if (( build )); then
  start=$(date +%s)
  docker build --network host -q -t "$image" "$REPO" >/dev/null
  echo "built $image in $(( $(date +%s) - start )) s"
fi
docker image inspect "$image" >/dev/null 2>&1 || die "no image $image (build it, or pass --build)"

tag=music$$
net=${tag}-net
subnet=10.$(( $$ % 200 + 20 )).$(( $$ / 200 % 250 )).0
prefix=${subnet%.0}
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  if (( keep )); then echo "kept containers ${tag}-*, network $net and $work"; return; fi
  docker rm -f "${tag}-launcher" "${tag}-worker-1" "${tag}-worker-2" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
owner_of_files() { find "$1" -mindepth 1 -printf '%U:%G\n' | sort -u | tr '\n' ' '; }
TINY=(--env_name FetchPush-v1 --note SAC+MUSIC --n_epochs 1 --n_cycles 2 --param n_batches=2 --param n_test_rollouts=1)

echo "== 1. a log folder the container's user cannot write"
mkdir "$work/root-owned"  # as Docker makes a missing -v folder: owned by root
start=$(date +%s)
set +e
out=$(timeout 120 docker run --rm --network none -v "$work/root-owned:/work/logs" "$image" \
  mpirun -np 2 python -m music.train "${TINY[@]}" --logdir logs/push 2>&1)
status=$?
set -e
took=$(( $(date +%s) - start ))
echo "$out" | tail -1
(( status == 2 )) || fail "exit $status, expected 2"
(( took < 60 )) || fail "took $took s"
[[ -z $(ls -A "$work/root-owned") ]] || fail "something was written"
echo "ok: exit 2 in $took s, nothing written"

echo "== 2. the single-container command (2 ranks)"
mkdir "$work/logs" && chown 1000:1000 "$work/logs"
start=$(date +%s)
docker run --rm --network none -v "$work/logs:/work/logs" "$image" \
  mpirun -np 2 python -m music.train "${TINY[@]}" --logdir logs/push > "$work/single.out" 2>&1 \
  || { tail -20 "$work/single.out"; fail "the single-container run failed"; }
grep "final weights identical" "$work/logs/push/log.txt" | tail -1
grep -q "final weights identical on all 2 ranks: True" "$work/logs/push/log.txt" || fail "ranks differ"
owners=$(owner_of_files "$work/logs/push")
[[ $owners == "1000:1000 " ]] || fail "files owned by $owners"
echo "ok: $(( $(date +%s) - start )) s, files owned by $owners"

echo "== 2b. the shipped pretrained weights are in the image"
docker run --rm --network none "$image" python -m music.evaluate pretrained:FetchPush-v1/SAC+MUSIC/seed0 \
  --episodes 1 > "$work/shipped.out" 2>&1 || { tail -5 "$work/shipped.out"; fail "no shipped weights in the image"; }
echo "ok: $(grep -m1 -i "success" "$work/shipped.out")"

echo "== 3. 4 ranks in 2 worker containers, mpirun in a third, over ssh"
docker network create --subnet "$subnet/24" "$net" >/dev/null
hosts=(--add-host "launcher:$prefix.10" --add-host "worker-1:$prefix.11" --add-host "worker-2:$prefix.12")
mkdir "$work/ssh" "$work/shared" && chown 1000:1000 "$work/ssh" "$work/shared"
# the job's key pair, as the mpi-operator puts it into its Secret
docker run --rm --network none -v "$work/ssh:/keys" "$image" \
  sh -c 'ssh-keygen -q -t rsa -N "" -f /keys/id_rsa && cp /keys/id_rsa.pub /keys/authorized_keys'
printf 'worker-1:2\nworker-2:2\n' > "$work/hostfile"
for i in 1 2; do
  docker run -d --name "${tag}-worker-$i" --hostname "worker-$i" --network "$net" --ip "$prefix.1$i" "${hosts[@]}" \
    -v "$work/ssh:/home/music/.ssh:ro" -v "$work/shared:/work/logs" "$image" \
    /usr/sbin/sshd -De -f /home/music/.sshd_config >/dev/null
done
for i in 1 2; do  # the MPIJob's readiness probe: the worker's port 2222 accepts
  ready=0
  for _ in $(seq 60); do
    docker exec "${tag}-worker-$i" bash -c 'exec 3<>/dev/tcp/127.0.0.1/2222' 2>/dev/null && { ready=1; break; }
    sleep 0.5
  done
  (( ready )) || { docker logs "${tag}-worker-$i" | tail -5; fail "worker-$i: its sshd did not accept on port 2222"; }
done
rx() { docker exec "${tag}-worker-$1" cat /sys/class/net/eth0/statistics/rx_bytes; }
before=("$(rx 1)" "$(rx 2)")
start=$(date +%s)
docker run --name "${tag}-launcher" --hostname launcher --network "$net" --ip "$prefix.10" "${hosts[@]}" \
  -v "$work/ssh:/home/music/.ssh:ro" -v "$work/shared:/work/logs" -v "$work/hostfile:/etc/mpi/hostfile:ro" \
  -e HYDRA_HOST_FILE=/etc/mpi/hostfile -e HYDRA_LAUNCHER_EXTRA_ARGS="-o ConnectionAttempts=10" "$image" \
  mpirun -n 4 python -m music.train "${TINY[@]}" --logdir /work/logs/cluster > "$work/cluster.out" 2>&1 \
  || { tail -30 "$work/cluster.out"; fail "the 3-container run failed"; }
took=$(( $(date +%s) - start ))
log=$work/shared/cluster/log.txt
grep "MPI ranks on hosts" "$log"
grep "final weights identical" "$log" | tail -1
grep -q "MPI ranks on hosts: 0:worker-1 1:worker-1 2:worker-2 3:worker-2" "$log" || fail "ranks not on both workers"
grep -q "final weights identical on all 4 ranks: True" "$log" || fail "ranks differ"
for i in 1 2; do
  got=$(( $(rx "$i") - ${before[$((i - 1))]} ))
  echo "worker-$i received $got bytes on eth0 during the run"
  (( got > 300000 )) || fail "worker-$i received only $got bytes: MPI did not cross containers"
done
owners=$(owner_of_files "$work/shared/cluster")
[[ $owners == "1000:1000 " ]] || fail "files owned by $owners"
echo "ok: $took s, files owned by $owners"
echo "all container checks passed"
