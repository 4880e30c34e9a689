"""The repository stands alone: no path of a developer's machine, no data from outside it.

A fresh clone with no sibling folders must build, test and run the demo. So no tracked
file names an absolute path of some machine (home folders, CI work folders), and tests
read data only from the checkout (`tests/data/`, `etc/`); big benchmark inputs are the
bench scripts' business, passed as a path.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Absolute paths that only exist on somebody's machine. System paths a deployment uses
# (/etc, /run, /var/lib, /usr/local/bin) are fine.
MACHINE_PATH = re.compile(r"(?<![\w.])/(work|home|root|Users|mnt/c)/[\w.-]")
BINARY = {".gz", ".png", ".db", ".sqlite", ".pyc"}


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
        ).stdout.decode()
        files = [ROOT / f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):  # an export without .git
        files = [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]
    return [f for f in files if f.suffix not in BINARY and f.is_file()]


def test_no_machine_absolute_paths_in_tracked_files() -> None:
    hits = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for no, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line) and path.name != Path(__file__).name:
                hits.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()[:100]}")
    assert hits == [], "absolute paths of a machine:\n" + "\n".join(hits)


def test_tests_read_no_data_from_outside_the_checkout() -> None:
    outside = re.compile(r"\.\./shared|CLUES_SHARED|parents\[\d\]\s*/\s*[\"']shared")
    hits = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("*.py")
        if p.name != Path(__file__).name and outside.search(p.read_text(encoding="utf-8"))
    ]
    assert hits == []


def test_the_pattern_catches_machine_paths_only() -> None:
    # The samples are assembled so this file holds no machine path itself.
    work, home = "/" + "work", "/" + "home"
    assert MACHINE_PATH.search(f'Path("{work}/shared")')
    assert MACHINE_PATH.search(f"see {home}/alice/clues")
    assert not MACHINE_PATH.search("unix:/run/clues/clues.sock /etc/clues/clues.yaml")
    assert not MACHINE_PATH.search(f"https://example.org{work}/x and tests{work}/y")
