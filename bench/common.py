"""What every bench case shares: timing, results, the table, manifests, real servers.

Every case measures smtpcfg and a baseline in the same run, on the same machine and the
same data, and reports the ratio: numbers from different machines are not comparable,
ratios mostly are. Each measurement is the median of several runs.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
#: Variables that would change what the CLI does (CI detection, a store, Vault).
#: Variables a measured process must not inherit; COVERAGE_ ones would trace it (slower,
#: and importing sqlite3 for coverage's data file) when the tests run under coverage.
_DROPPED = ("SMTPCFG_", "VAULT_", "BAO_", "GITHUB_", "CI_", "BUILD", "NO_COLOR", "COVERAGE_")
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass
class Result:
    """One case's outcome: smtpcfg's time against its baseline's, and the target."""

    case: str
    n: int
    seconds: float
    baseline_seconds: float
    ratio: float
    target: str
    met: bool | None
    runs: int
    unit: str = "s"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "n": self.n,
            "seconds": round(self.seconds, 4),
            "baseline_seconds": round(self.baseline_seconds, 4),
            "ratio": round(self.ratio, 3),
            "target": self.target,
            "met": self.met,
            "runs": self.runs,
            **self.extra,
        }


def emit(result: Result) -> Result:
    """Print the case's JSON line at once, so a long run shows progress."""
    print(json.dumps(result.to_json(), sort_keys=False), flush=True)
    return result


def note(message: str) -> None:
    """A remark for the reader (skipped cases, set-up); never a JSON line."""
    print(f"# {message}", flush=True)


def print_table(results: Sequence[Result]) -> None:
    headers = ("case", "N", "seconds", "baseline s", "ratio", "target", "met")
    rows = [
        (
            r.case,
            str(r.n),
            f"{r.seconds:.3f}",
            f"{r.baseline_seconds:.3f}",
            f"{r.ratio:.2f}",
            r.target,
            {True: "yes", False: "NO", None: "-"}[r.met],
        )
        for r in results
    ]
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def median_seconds(
    work: Callable[[], object],
    runs: int,
    setup: Callable[[], object] | None = None,
) -> tuple[float, list[float]]:
    """The median wall time of `runs` calls of `work`; `setup` runs untimed before each."""
    samples = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples


def interleaved_medians(
    works: Mapping[str, Callable[[], object]],
    runs: int,
    setup: Callable[[str], object] | None = None,
) -> dict[str, float]:
    """Medians of several measurements taken in turn (a, b, a, b, ...), so that a slow
    phase of the machine hits all of them alike rather than one."""
    samples: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(runs):
        for name, work in works.items():
            if setup is not None:
                setup(name)
            start = time.perf_counter()
            work()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for CLI subprocesses: no CI, store or Vault variables of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    env["HOME"] = str(home)
    env.update(extra)
    return env


def smtpcfg_argv() -> list[str]:
    """The installed `smtpcfg` script beside this Python, else `python -m reconciler`."""
    script = Path(sys.executable).with_name("smtpcfg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]


def run_cli(
    args: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path,
    ok: tuple[int, ...] = (0,),
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run `smtpcfg ARGS` as users do; raise with its output if it exits otherwise."""
    completed = subprocess.run(
        [*smtpcfg_argv(), *map(str, args)],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if completed.returncode not in ok:
        raise RuntimeError(
            f"smtpcfg {' '.join(map(str, args))} exited {completed.returncode}:\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
        )
    return completed


def run_python(
    code: str, *args: str | Path, env: Mapping[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """A bare `python -c CODE ARGS` process (a baseline), checked."""
    completed = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"baseline exited {completed.returncode}:\n{completed.stderr[-4000:]}")
    return completed


@contextmanager
def workdir(name: str) -> Iterator[Path]:
    """A fresh folder, removed afterwards (set SMTPCFG_BENCH_KEEP=1 to keep it)."""
    keep = bool(os.environ.get("SMTPCFG_BENCH_KEEP"))
    folder = tempfile.mkdtemp(prefix=f"smtpcfg-bench-{name}-")
    try:
        yield Path(folder)
    finally:
        if keep:
            note(f"kept {folder}")
        else:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def write_yaml(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False), encoding="utf-8")
    return path


def document(
    kind: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "smtpcfg/v1", "kind": kind, "metadata": metadata, "spec": spec}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
    }
