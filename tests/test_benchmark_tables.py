"""benchmarks/vs_original.py's implied epochs and floors, and their table, against a hand computation."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location("vs_original", ROOT / "benchmarks" / "vs_original.py")
vs_original = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vs_original)


def row(piece, original_ms, port_ms, **extra):
    return {"variant": "SAC+MUSIC", "piece": piece, "label": piece, "calls": 10, "original_ms": original_ms,
            "port_ms": port_ms, "ratio": original_ms / port_ms, **extra}


def test_epochs_and_the_ports_floor_follow_the_formula():
    pieces = [row("train", 8.0, 7.0), row("mine_step", 7.0, 6.5), row("get_actions", 0.2, 0.1),
              row("polyak", 0.3, 0.2)]
    floors = [row("sample", 0.5, 0.4, of_piece="train"), row("train_graph", 4.0, 4.5, of_piece="train"),
              row("adam_update", 1.2, 1.0, of_piece="train"), row("in_sequence", 6.5, 6.6, of_piece=None),
              row("mine_graph", 6.0, 6.2, of_piece="mine_step")]
    facts = {"SAC+MUSIC": {"params": {"n_cycles": 50, "n_batches": 40, "n_test_rollouts": 10}, "T": 50}}
    (epoch,) = vs_original.implied_epochs(pieces, facts, floors)
    # 2000 steps, (50 + 10) x 50 = 3000 actions, 50 Polyak updates
    assert epoch["original_s"] == pytest.approx((2000 * (8.0 + 7.0) + 3000 * 0.2 + 50 * 0.3) / 1000)
    assert epoch["port_s"] == pytest.approx((2000 * (7.0 + 6.5) + 3000 * 0.1 + 50 * 0.2) / 1000)
    floor = (2000 * ((0.4 + 4.5 + 1.0) + 6.2) + 3000 * 0.1 + 50 * 0.2) / 1000
    assert epoch["port_floor_s"] == pytest.approx(floor)
    assert epoch["floor_ratio"] == pytest.approx(epoch["original_s"] / floor)
    sequence = (2000 * (6.6 + 6.2) + 3000 * 0.1 + 50 * 0.2) / 1000
    assert epoch["port_sequence_floor_s"] == pytest.approx(sequence)

    data = {"machine": {"cores": 2, "load_average_before": [0.1]}, "original": {"commit": "abc"}, "tf_threads": 1,
            "mpi_ranks": 1, "checks": [], "pieces": pieces, "floors": floors, "epochs": [epoch], "calls": 10,
            "warmup": 1, "block": 5}
    text = "\n".join(vs_original.vs_original_section(data))
    # train: parts 0.4 + 4.5 + 1.0 = 5.9 ms of 7.0, the rest 1.1 ms, best possible 8.0 / 5.9 = 1.36
    assert "| train | 8.00 | 7.00 | 5.90 | 1.10 | 1.36 |" in text
    assert "| mine_step | 7.00 | 6.50 | 6.20 | 0.30 | 1.13 |" in text
    assert (f"| SAC+MUSIC | {epoch['original_s']:.1f} | {floor:.1f} | {epoch['original_s'] / floor:.2f} | "
            f"{sequence:.1f} | {epoch['original_s'] / sequence:.2f} |") in text
    assert "| in_sequence | - | 6.50 | 6.60 |" in text


def test_a_benchmarks_result_is_written_with_where_and_when_it_was_measured(tmp_path):
    import json
    import subprocess

    import provenance

    out = tmp_path / "results"
    written = provenance.write_result(out, "sb3", [{"algo": "SAC", "epoch_s": 1.5}])
    assert written == out / "sb3.json" and json.loads(written.read_text()) == [{"algo": "SAC", "epoch_s": 1.5}]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    entry = json.loads((out / "machines.json").read_text())["sb3"]
    assert entry["commit"] == (commit or None) and entry["machine"]
    assert provenance.describe(out, "sb3") == f"_Measured on {entry['machine']}, {entry['date']}, commit {commit}._"
    assert provenance.describe(out, "memory").startswith("_Measured before machines were recorded")
