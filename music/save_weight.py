"""Extract a policy's weights into a name -> array file: ``python -m music.save_weight POLICY``.

Writes ``<policy>_weight.pkl`` beside each policy file (the original's format: a
pickled dict of numpy arrays) and ``<policy>_weight.npz`` (the same arrays, readable
without pickle; preferred when both exist). The policy may be a ``.pkl`` or ``.npz``.
With ``--env_name`` and ``--note`` instead, converts the policy that the params file's
``load_weight`` names (indexed by ``--seed`` if a list).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np

from music.cli import fail, mpi_missing, parser
from music.files import atomic_write
from music.policy_files import PolicyFileError, load_policy, read_weights

__all__ = ["PolicyFileError", "extract_weights", "load_policy", "read_weights", "saved_weights", "weights_file",
           "weights_source",
           "write_weights"]


def weights_file(policy_path: Path | str) -> Path:
    policy_path = Path(policy_path)
    return policy_path.with_name(policy_path.stem + "_weight.pkl")


def write_weights(weights: dict[str, np.ndarray], path: Path) -> None:
    """Atomically write a name -> array dict: ``.pkl`` (the original's format) or ``.npz``."""
    path = Path(path)
    arrays = {k: np.asarray(v) for k, v in weights.items()}
    if path.suffix == ".npz":
        atomic_write(path, lambda f: np.savez(f, **arrays))
    else:
        atomic_write(path, lambda f: pickle.dump(arrays, f))


def saved_weights(policy_path: Path | str) -> Path | None:
    """The weights file already extracted from a policy (npz preferred), or None."""
    for suffix in (".npz", ".pkl"):
        candidate = weights_file(policy_path).with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def extract_weights(policy_path: Path | str, write: bool = True) -> dict[str, np.ndarray]:
    """The weights of a policy file; with ``write`` also saved as ``<policy>_weight.pkl`` and ``.npz``."""
    weights = load_policy(policy_path).save_weight()
    if write:
        write_weights(weights, weights_file(policy_path))
        write_weights(weights, weights_file(policy_path).with_suffix(".npz"))
    return weights


def weights_source(path: Path | str) -> Path:
    """The file ``load_weights(path)`` reads: a weights file as it is, else the weights file
    extracted from the policy if there is one, else the policy file itself."""
    path = Path(path)
    if path.name.endswith(("_weight.npz", "_weight.pkl")):
        return path
    existing = saved_weights(path)
    return existing if existing is not None else path


def load_weights(path: Path | str, write: bool = False) -> dict[str, np.ndarray]:
    """The weights ``path`` means: a weights file (``*_weight.npz``/``.pkl``) as it is, or a policy
    file's weights (its extracted weights file if there is one, else extracted; written with ``write``)."""
    source = weights_source(path)
    if source.name.endswith(("_weight.npz", "_weight.pkl")):
        return read_weights(source)
    return extract_weights(source, write=write)


def main(argv: list[str] | None = None) -> int:
    p = parser("python -m music.save_weight", __doc__.split("\n\n")[0])
    p.add_argument("policies", nargs="*", help="policy files (policy_*.pkl or policy_*.npz)")
    p.add_argument("--env_name", help="with --note: convert the params file's load_weight")
    p.add_argument("--note", help="variant whose params file names the policy")
    p.add_argument("--seed", type=int, default=0, help="index into a load_weight list")
    args = p.parse_args(argv)
    missing = mpi_missing()
    if missing:
        return fail("music.save_weight", missing)
    try:
        policies = [Path(x) for x in args.policies]
        if not policies:
            if not (args.env_name and args.note):
                raise PolicyFileError("give policy files, or --env_name and --note")
            from music.config import load_params_file, params_file

            value = load_params_file(params_file(args.env_name, args.note)).get("load_weight")
            if not value:
                raise PolicyFileError(f"the params of {args.note} on {args.env_name} load no weights")
            if isinstance(value, list):
                if not 0 <= args.seed < len(value):
                    raise PolicyFileError(f"load_weight lists {len(value)} policies; --seed {args.seed} is out of "
                                          "range")
                value = value[args.seed]
            policies = [Path(value)]
        for path in policies:
            weights = extract_weights(path)
            print(f"{path} -> {weights_file(path)} and {weights_file(path).with_suffix('.npz').name} "
                  f"({len(weights)} arrays)")
    except (PolicyFileError, ValueError) as err:
        return fail("music.save_weight", err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
