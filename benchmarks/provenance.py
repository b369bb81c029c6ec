"""Where and when each benchmark's results were measured (``results/machines.json``).

Timings and even float32 results differ between machines, so RESULTS.md names, per
section, the CPU, the date and the commit of the run that produced it.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
try:
    from music.sweep import machine
except ImportError:  # run from a checkout older than the machine records (benchmarks of old commits)
    import platform

    def machine() -> str:
        return f"{platform.processor() or platform.machine()} (CPU model not recorded)"

FILE = "machines.json"


def record(out: Path, name: str) -> None:
    """Note that benchmark ``name`` was just measured here (into ``out/machines.json``)."""
    path = Path(out) / FILE
    entries = json.loads(path.read_text()) if path.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent).stdout.strip()
    entries[name] = {"machine": machine(), "date": datetime.date.today().isoformat(), "commit": commit or None}
    path.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")


def write_result(out: Path, name: str, result) -> Path:
    """Write ``out/<name>.json`` and note where and when it was measured; the path written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=1))
    record(out, name)
    return path


def describe(results: Path, name: str) -> str:
    """One line for RESULTS.md: the machine, date and commit of ``name``'s results."""
    path = Path(results) / FILE
    entry = (json.loads(path.read_text()) if path.exists() else {}).get(name)
    if entry is None:
        return "_Measured before machines were recorded (2026-11-24, on the machine of that session)._"
    return f"_Measured on {entry['machine']}, {entry['date']}, commit {entry['commit']}._"


def same_machine(results: Path, *names: str) -> bool:
    """Whether results ``names`` were all recorded, on one machine (cross-benchmark ratios need it)."""
    path = Path(results) / FILE
    entries = json.loads(path.read_text()) if path.exists() else {}
    machines = {entries[name]["machine"] if name in entries else None for name in names}
    return len(machines) == 1 and None not in machines
