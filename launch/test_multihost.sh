#!/usr/bin/env bash
# A real multi-host MPI run on one machine: network namespaces joined by veth pairs and
# a bridge act as hosts with their own addresses; one training run puts one rank on
# each, talking MPI over TCP between those addresses. Needs root (ip netns).
set -euo pipefail
source "$(dirname "$0")/common.sh"
usage() {
  cat <<USAGE
usage: sudo launch/test_multihost.sh [--hosts N] [--keep]
  --hosts N   number of namespace hosts, one rank each (default 2)
  --keep      leave the namespaces and the run folder for inspection
Checks: the run succeeds; each rank ran on its own host; every host but the launching
one received MPI traffic (> 300 kB) on its veth; all ranks end with identical weights;
a hostfile naming an unreachable host is refused before anything starts.
USAGE
}
n_hosts=2; keep=0
while (( $# )); do
  case $1 in
    -h|--help) usage; exit 0;;
    --hosts) [[ $# -ge 2 ]] || die "--hosts needs a value"; n_hosts=$2; shift 2;;
    --keep) keep=1; shift;;
    *) die "unknown argument $1 (see --help)";;
  esac
done
positive_int "--hosts" "$n_hosts"
(( n_hosts >= 2 )) || die "--hosts must be at least 2"
(( EUID == 0 )) || die "needs root (network namespaces)"
command -v ip >/dev/null || die "needs iproute2 (ip)"
command -v unshare >/dev/null || die "needs unshare (util-linux)"

tag=music$$
work=$(mktemp -d)
subnet=10.231.$(( $$ % 200 + 10 ))
cleanup() {
  if (( keep )); then echo "kept namespaces ${tag}-* and $work"; return; fi
  for ((i = 1; i <= n_hosts; i++)); do ip netns del "${tag}-h$i" 2>/dev/null || true; done
  ip netns del "${tag}-sw" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A switch namespace with a bridge; each host namespace hangs on it through a veth pair.
ip netns add "${tag}-sw"
ip -n "${tag}-sw" link add br0 type bridge
ip -n "${tag}-sw" link set br0 up
: > "$work/hosts"
for ((i = 1; i <= n_hosts; i++)); do
  ns=${tag}-h$i
  ip netns add "$ns"
  ip link add "${tag}a$i" type veth peer name "${tag}b$i"
  ip link set "${tag}a$i" netns "$ns"
  ip link set "${tag}b$i" netns "${tag}-sw"
  ip -n "$ns" link set "${tag}a$i" name eth0
  ip -n "$ns" addr add "$subnet.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip -n "${tag}-sw" link set "${tag}b$i" master br0
  ip -n "${tag}-sw" link set "${tag}b$i" up
  echo "$subnet.$i" >> "$work/hosts"
done

# ssh stand-in for hydra: run the command in the host's namespace, with its own hostname.
cat > "$work/nsexec" <<NSEXEC
#!/usr/bin/env bash
while [[ \$1 == -* ]]; do shift; done
host=\$1; shift
i=\${host##*.}
[[ \$host == $subnet.* ]] && ip netns list | grep -q "^${tag}-h\$i\\b" || { echo "no host \$host" >&2; exit 255; }
exec ip netns exec ${tag}-h\$i unshare --uts sh -c "hostname host\$i; \$*"
NSEXEC
chmod +x "$work/nsexec"

rx_bytes() { ip -n "${tag}-h$1" -s -j link show eth0 | "$(find_python)" -c "import json,sys; print(json.load(sys.stdin)[0]['stats64']['rx']['bytes'])"; }

echo "== a hostfile with an unreachable host is refused up front"
cp "$work/hosts" "$work/hosts_bad"; echo "$subnet.250" >> "$work/hosts_bad"
if out=$("$REPO/launch/multinode.sh" -f "$work/hosts_bad" -n 2 --launcher-exec "$work/nsexec" --dry-run 2>&1); then
  echo "FAIL: unreachable host accepted"; exit 1
fi
echo "$out"; [[ $out == *"host $subnet.250 is unreachable"* ]] || { echo "FAIL: wrong message"; exit 1; }

echo "== training: $n_hosts ranks on $n_hosts hosts ($subnet.1-$n_hosts)"
declare -a before
for ((i = 1; i <= n_hosts; i++)); do before[$i]=$(rx_bytes "$i"); done
logdir=$work/run
start=$SECONDS
# UCX_TLS / FI_PROVIDER: the namespaces share one kernel, so without them the MPI
# libraries would notice the peers are on the same machine and use shared memory.
ip netns exec "${tag}-h1" unshare --uts sh -c "hostname host1; \
  UCX_TLS=tcp FI_PROVIDER=tcp '$REPO/launch/multinode.sh' -f '$work/hosts' -n $n_hosts --ppn 1 \
  --launcher-exec '$work/nsexec' -- --env_name FetchPush-v1 --note SAC+MUSIC --n_epochs 1 --n_cycles 2 \
  --param n_batches=3 --param n_test_rollouts=1 --param hidden=64 --logdir '$logdir'" > "$work/train.out" 2>&1 \
  || { tail -30 "$work/train.out"; echo "FAIL: training exited with an error"; exit 1; }
echo "trained in $((SECONDS - start)) s"
fail=0
hosts_line=$(grep "MPI ranks on hosts" "$logdir/log.txt")
echo "$hosts_line"
for ((i = 1; i <= n_hosts; i++)); do
  [[ $hosts_line == *" $((i - 1)):host$i"* || $hosts_line == *"$((i - 1)):host$i" ]] \
    || { echo "FAIL: rank $((i - 1)) did not run on host$i"; fail=1; }
done
for ((i = 2; i <= n_hosts; i++)); do
  got=$(( $(rx_bytes "$i") - before[i] ))
  echo "host$i received $got bytes on eth0 ($subnet.$i)"
  # Gradient allreduces of this run carry several hundred kB; process start-up and PMI
  # alone (MPI over shared memory) were measured at about 17 kB.
  (( got > 300000 )) || { echo "FAIL: host$i saw no MPI traffic"; fail=1; }
done
weights_line=$(grep "final weights identical" "$logdir/log.txt")
echo "$weights_line"
[[ $weights_line == *"on all $n_hosts ranks: True"* ]] || { echo "FAIL: ranks disagree"; fail=1; }
(( fail == 0 )) && echo "PASS: multi-host MPI over TCP, identical weights on all $n_hosts ranks"
exit $fail
