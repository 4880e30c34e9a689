"""Config fuzzer: mutants of the example configs through `cluesd --check` and `clues config
check`; prints one JSON line.

Bases: etc/clues.yaml, the config embedded in etc/kubernetes/20-configmap.yaml, etc/sim/*.yaml
and a "kitchen sink" using every built-in plugin kind, hooks and leader election, each made
runnable on this machine (temporary state DB, socket, log file and kubeconfig) and checked to
pass first. Mutation classes: type swaps, out-of-range numbers, bad names, missing keys,
unknown keys, typos of keys, YAML bombs (billion laughs, deep nesting, merge keys, tags, a
huge file) and encodings (bad UTF-8, NUL and control bytes, UTF-16, CR line ends, truncation).
Each mutant knows whether it must be refused or may go either way.

Both checks run in this process through their real entry points (`clues_py.daemon.service.main`
and the click command), so 600 mutants take about a minute; `--processes N` also runs N of them
through real `cluesd` and `clues` processes. Counted: mutants, tracebacks, invalid configs
accepted, error lines without `FILE:LINE:COL` (line and column >= 1), disagreements between
the two (exit code or error lines), and the slowest check. Exits 1 unless the four counts are
0 (the floor of issue 15).

    python bench/config_fuzz.py [--count 600] [--seed 1] [--processes 10] [--base NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from config_mutants import Mutant, mutants  # noqa: E402

from clues_py.cli.main import main as clues_main  # noqa: E402
from clues_py.daemon.service import main as cluesd_main  # noqa: E402

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: f, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: f, user: {}}]
contexts: [{name: f, context: {cluster: f, user: f}}]
current-context: f
"""
ENV = {"FUZZ_KEY": "AKIAFUZZFUZZFUZZFUZZ", "FUZZ_SECRET": "fuzz-secret", "FUZZ_BMC": "pw"}


def kitchen_sink(tmp: Path) -> dict[str, Any]:
    """Every built-in plugin kind, hooks and leader election, valid on this machine."""
    (tmp / "im-auth").write_text("id = im; type = InfrastructureManager; token = t\n")
    recipe = "system {node_name} ( cpu.count >= 2 )\n"
    return {
        "cluster_name": "fuzz",
        "leader_election": {"enabled": True, "lease_name": "clues-fuzz", "namespace": "fuzz"},
        "backend": {"kind": "kubernetes", "pending_grace": 2, "namespace": "fuzz"},
        "power": {
            "sim": {"kind": "sim", "url": "http://127.0.0.1:1", "failure_rate": 0.1},
            "cmd": {
                "kind": "command",
                "on_command": "true",
                "off_command": ["true", "x"],
                "timeout": 30,
                "env": {"SITE": "a"},
            },
            "wake": {"kind": "wol", "macs": {"wol-1": "52:54:00:12:34:56"}, "port": 9},
            "bmc": {
                "kind": "ipmi",
                "defaults": {"user": "admin", "password_env": "FUZZ_BMC"},
                "nodes": {"bm-1": {"host": "10.0.0.1", "port": 623}},
            },
            "cloud": {
                "kind": "libcloud",
                "driver": "ec2",
                "image": "ami-1",
                "size": "t3.small",
                "key_env": "FUZZ_KEY",
                "secret_env": "FUZZ_SECRET",
                "region": "us-east-1",
                "tags": {"team": "hpc"},
            },
            "grid": {
                "kind": "im",
                "url": "http://127.0.0.1:1",
                "auth_file": str(tmp / "im-auth"),
                "infrastructure_id": "inf-1",
                "recipes": {"vm": recipe},
            },
        },  # fmt: skip
        "templates": [
            {
                "name": "wn",
                "power": "sim",
                "nodes": "wn-[1-4]",
                "cpu": 4,
                "memory": "8Gi",
                "labels": {"example.com/zone": "a"},
                "priority": 5,
                "cost_per_hour": 0.2,
                "taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}],
            },
            {
                "name": "cmd",
                "power": "cmd",
                "nodes": ["cmd-1", "cmd-2"],
                "cpu": "500m",
                "memory": "1Gi",
            },
            {"name": "wol", "power": "wake", "nodes": "wol-1", "cpu": 2, "memory": "2Gi"},
            {"name": "bm", "power": "bmc", "nodes": "bm-1", "cpu": 64, "memory": "256Gi"},
            {
                "name": "ec2",
                "power": "cloud",
                "nodes": "ec2-[01-03]",
                "cpu": 2,
                "memory": "4Gi",
                "max_count": 2,
            },
            {"name": "vm", "power": "grid", "nodes": "vm-1", "cpu": 1, "memory": "1Gi"},
        ],  # fmt: skip
        "policies": [
            {"kind": "scale_up", "pending_grace": 1},
            {"kind": "keep_free", "nodes": 1},
            {"kind": "schedule", "windows": [{"cron": "* 8-17 * * mon-fri", "nodes": 1}]},
            {"kind": "min_nodes", "min_nodes": 0},
            {"kind": "pack_down", "threshold": 0.4, "quiet": 120},
            {"kind": "idle_off", "idle_time": 60},
            {"kind": "consolidation", "threshold": 0.3},
            {"kind": "limits", "max_nodes": 10, "max_memory": "512Gi"},
        ],
        "expanders": [
            "priority",
            {"kind": "cheapest", "per_pod": True},
            {"kind": "random", "seed": 3},
        ],  # fmt: skip
        "hooks": {"on_idle": "logger idle", "pre_power_off": {"command": ["true"], "timeout": 5}},
    }


def localize(data: Any, tmp: Path) -> dict[str, Any]:
    """A base made runnable here: the machine-dependent keys point under `tmp`."""
    cfg: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    daemon = dict(cfg.get("daemon") or {})
    daemon.update(state_db=str(tmp / "clues.db"), listen=f"unix:{tmp / 'c.sock'}",
                  log_file=str(tmp / "cluesd.log"))  # fmt: skip
    if daemon.get("metrics_listen"):
        daemon["metrics_listen"] = "127.0.0.1:0"
    backend = dict(cfg.get("backend") or {"kind": "kubernetes"})
    backend.update(kubeconfig=str(tmp / "kubeconfig"), in_cluster=False)
    return {**cfg, "daemon": daemon, "backend": backend}


def bases(tmp: Path) -> dict[str, str]:
    (tmp / "kubeconfig").write_text(KUBECONFIG)
    raw = {"clues.yaml": yaml.safe_load((ROOT / "etc/clues.yaml").read_text())}
    cm = [d for d in yaml.safe_load_all((ROOT / "etc/kubernetes/20-configmap.yaml").read_text())]
    raw["configmap"] = yaml.safe_load(cm[0]["data"]["clues.yaml"])
    for p in sorted((ROOT / "etc/sim").glob("*.yaml")):
        raw[f"sim/{p.name}"] = yaml.safe_load(p.read_text())
    raw["kitchen-sink"] = kitchen_sink(tmp)
    return {k: yaml.safe_dump(localize(v, tmp), sort_keys=False) for k, v in raw.items()}


# ---------------------------------------------------------------------------- running checks


def _cluesd(path: str) -> tuple[int | None, str, str]:
    out, err = io.StringIO(), io.StringIO()
    tb = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc: int | None = cluesd_main(["--check", "-c", path])
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - a traceback is what we count
            rc, tb = None, traceback.format_exc()
    return rc, out.getvalue(), err.getvalue() + tb


def _clues(path: str) -> tuple[int | None, str, str]:
    result = CliRunner().invoke(clues_main, ["config", "check", path])
    tb = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tb = "".join(traceback.format_exception(result.exception))
        return None, result.stdout, result.stderr + tb
    return result.exit_code, result.stdout, result.stderr


def _processes(path: str) -> list[tuple[int | None, str, str]]:
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    out = []
    for argv in (["clues_py.daemon.service", "--check", "-c", path],
                 ["clues_py.cli", "config", "check", path]):  # fmt: skip
        p = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True,
                           timeout=120, env=env)  # fmt: skip
        out.append((p.returncode, p.stdout, p.stderr))
    return out


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln and not ln.startswith("cluesd: invalid")]


def judge(m: Mutant, path: str, results: list[tuple[int | None, str, str]], tally: Counter[str],
          problems: list[dict[str, Any]]) -> None:  # fmt: skip
    place = re.compile(rf"^{re.escape(path)}:(\d+):(\d+): ")
    (rc_a, _, err_a), (rc_b, _, err_b) = results
    found = []
    if rc_a is None or rc_b is None or "Traceback" in err_a + err_b:
        found.append("traceback")
    if m.invalid and 0 in (rc_a, rc_b):
        found.append("invalid_accepted")
    lines = error_lines(err_a) + error_lines(err_b)
    if any(not (mm := place.match(ln)) or min(map(int, mm.groups())) < 1 for ln in lines):
        found.append("errors_without_line")
    if rc_a != rc_b or error_lines(err_a) != error_lines(err_b):
        found.append("disagreements")
    for f in found:
        tally[f] += 1
        if len(problems) < 20:
            problems.append({"problem": f, "class": m.kind, "what": m.what,
                             "cluesd": [rc_a, err_a[-400:]], "clues": [rc_b, err_b[-400:]]})  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=600, help="mutants (default 600)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--processes", type=int, default=10, help="mutants also run as processes")
    ap.add_argument("--verbose", action="store_true", help="print the problems found")
    ap.add_argument("--base", action="append", help="only these bases (e.g. kitchen-sink)")
    args = ap.parse_args()
    os.environ.update(ENV)
    rng = random.Random(args.seed)
    tally: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    problems: list[dict[str, Any]] = []
    slowest, slowest_what = 0.0, ""
    with tempfile.TemporaryDirectory(prefix="clues-fuzz-") as tmp_name:
        tmp = Path(tmp_name)
        texts = {k: v for k, v in bases(tmp).items() if not args.base or k in args.base}
        for name, text in texts.items():  # the bases themselves must pass
            path = tmp / "base.yaml"
            path.write_text(text)
            rc_a, _, err_a = _cluesd(str(path))
            if rc_a != 0:
                print(f"base {name} does not pass: {err_a}", file=sys.stderr)
                return 2
        todo = mutants(texts, args.count, rng)
        as_process = set(rng.sample(range(len(todo)), min(args.processes, len(todo))))
        for i, m in enumerate(todo):
            path = tmp / f"m{i}.yaml"
            path.write_bytes(m.data)
            t0 = time.monotonic()
            results = [_cluesd(str(path)), _clues(str(path))]
            took = (time.monotonic() - t0) / 2
            if took > slowest:
                slowest, slowest_what = took, m.what
            judge(m, str(path), results, tally, problems)
            if i in as_process:  # the real processes agree with each other and with the above
                procs = _processes(str(path))
                judge(m, str(path), procs, tally, problems)
                judge(m, str(path), [results[0], procs[1]], tally, problems)
            classes[m.kind] += 1
            path.unlink()
    keys = ("tracebacks", "invalid_accepted", "errors_without_line", "disagreements")
    counts = dict(zip(keys, (tally["traceback"], tally["invalid_accepted"],
                             tally["errors_without_line"], tally["disagreements"]), strict=True))  # fmt: skip
    line = {"bench": "config_fuzz", "seed": args.seed, "mutants": len(todo), **counts,
            "processes": len(as_process), "max_check_seconds": round(slowest, 3), "slowest": slowest_what[:80],
            "classes": dict(sorted(classes.items())), "floor": "all four counts 0"}  # fmt: skip
    if args.verbose:
        for p in problems:
            print(json.dumps(p), file=sys.stderr)
    print(json.dumps(line))
    return 1 if any(counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
