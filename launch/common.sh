# Shared helpers of the launch scripts (sourced, not run).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "$(basename "$0"): error: $*" >&2; exit 2; }

positive_int() {  # name value
  [[ $2 =~ ^[0-9]+$ ]] && (( $2 > 0 )) || die "$1 must be a positive integer, got '$2'"
}

find_python() {
  if [[ -x $REPO/.venv/bin/python ]]; then echo "$REPO/.venv/bin/python"; else command -v python3 || command -v python; fi
}

find_mpiexec() {
  if [[ -x $REPO/.venv/bin/mpiexec ]]; then echo "$REPO/.venv/bin/mpiexec"; else command -v mpiexec || command -v mpirun; fi
}

mpi_flavour() {  # mpich | openmpi | unknown
  local v; v="$("$1" --version 2>&1 || true)"
  if [[ $v == *HYDRA* ]]; then echo mpich; elif [[ $v == *"Open MPI"* || $v == *OpenRTE* ]]; then echo openmpi; else echo unknown; fi
}
