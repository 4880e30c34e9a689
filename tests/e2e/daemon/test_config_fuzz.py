"""The config fuzzer (bench/config_fuzz.py) on the kitchen-sink base, every mutation class:
no traceback, no invalid config accepted, every error at FILE:LINE:COL, and `cluesd --check`
and `clues config check` agreeing (one of them also as real processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]
CLASSES = {"type_swap", "out_of_range", "bad_name", "missing_key", "unknown_key", "typo",
           "yaml_bomb", "encoding"}  # fmt: skip


def test_fuzzed_configs_are_refused_cleanly_and_alike() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench/config_fuzz.py"), "--count", "80", "--seed", "7",
         "--processes", "1", "--base", "kitchen-sink", "--verbose"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(line["classes"]) == CLASSES
    assert line["mutants"] >= 80
    counts = {k: line[k] for k in ("tracebacks", "invalid_accepted", "errors_without_line",
                                   "disagreements")}  # fmt: skip
    assert counts == dict.fromkeys(counts, 0), proc.stderr[-3000:]
    assert proc.returncode == 0
