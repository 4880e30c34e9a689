"""Where a running `clues demo` tells the CLI its API address: a per-user runtime file.

`clues demo` serves cluesd's API on a private socket in a temporary folder. While it runs
it writes that address to `$XDG_RUNTIME_DIR/clues/address` (without XDG_RUNTIME_DIR: a
0700 folder `clues-UID` in the temporary directory) and removes it when it ends. The CLI
reads it after `--address`/`CLUES_ADDRESS` and `--config`, so `clues status` in a second
terminal finds the demo with no setup. The file is trusted only in a folder this user owns
that nobody else can write, and a unix-socket address whose socket is gone (a demo that was
killed) is ignored. Resolving the other sources is `common.py`'s job.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def runtime_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        return Path(base) / "clues"
    return Path(tempfile.gettempdir()) / f"clues-{os.getuid()}"


def address_file() -> Path:
    return runtime_dir() / "address"


def _private(folder: Path) -> bool:
    """Owned by this user and writable by nobody else (nobody can plant an address)."""
    try:
        st = folder.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.getuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def publish(address: str) -> Path | None:
    """Write `address` for other `clues` commands of this user; None if that is not possible."""
    folder = runtime_dir()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        if not _private(folder):
            return None
        path = folder / "address"
        tmp = folder / f".address.{os.getpid()}"
        tmp.write_text(address + "\n")
        os.replace(tmp, path)  # atomic: a reader sees the old or the new address, whole
        return path
    except OSError:
        return None


def withdraw(address: str) -> None:
    """Remove the file if it still holds `address` (another demo may have replaced it)."""
    path = address_file()
    try:
        if path.read_text().strip() == address:
            path.unlink()
    except OSError:
        pass


def published() -> str | None:
    """The address a running demo published, or None."""
    path = address_file()
    if not _private(path.parent):
        return None
    try:
        address = path.read_text().strip()
    except OSError:
        return None
    if not address:
        return None
    if address.startswith("unix:") and not Path(address[5:]).exists():
        return None  # its demo is gone
    return address
