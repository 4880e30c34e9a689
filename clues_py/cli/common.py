"""What every `clues` command shares: exit codes, failing, the API client from the global options.

The global options (--address, --token-file, --config) are declared on `main` in main.py and
land in a `Settings`, which resolves them into an `ApiClient` only when a command needs the
daemon. The commands themselves are main.py's (daemon-facing) and tools.py's (offline and
delegated); rendering is render.py's.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from clues_py.api import ApiError, DaemonUnreachable
from clues_py.api.client import ApiClient
from clues_py.cli.runtime import published

T = TypeVar("T")

EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3
# cluesd's default daemon.listen (clues_py.config.load.DaemonConfig.listen).
DEFAULT_CLI_ADDRESS = "unix:/run/clues/clues.sock"

SINCE_HELP = "Only since then: a duration before now (90s, 30m, 2h, 1d), an ISO time or epoch."


def fail(message: str, code: int) -> NoReturn:
    """Print `message` on stderr and exit with `code`."""
    click.echo(message, err=True)
    sys.exit(code)


def _settings_from_config(path: str) -> dict[str, Any]:
    """`daemon:` options of a config file, read leniently: `config check` does the validating."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        fail(f"error: config file {path}: {exc.strerror or exc}", EXIT_USAGE)
    except yaml.YAMLError as exc:
        fail(f"error: config file {path} is not valid YAML: {exc}", EXIT_USAGE)
    daemon = data.get("daemon") if isinstance(data, dict) else None
    return daemon if isinstance(daemon, dict) else {}


def connect_address(listen: str) -> str:
    """A wildcard listen address is reached through loopback."""
    for wildcard, loopback in (("0.0.0.0:", "127.0.0.1:"), ("[::]:", "[::1]:")):
        if listen.startswith(wildcard):
            return loopback + listen[len(wildcard) :]
    return listen


class Settings:
    """The global options; `client()` builds the API client from them on first use."""

    def __init__(self, address: str | None, token_file: str | None, config: str | None) -> None:
        self._address = address
        self._token_file = token_file
        self._config = config
        self._client: ApiClient | None = None

    def client(self) -> ApiClient:
        if self._client is not None:
            return self._client
        address, token_file = self._address, self._token_file
        if self._config and (address is None or token_file is None):
            daemon = _settings_from_config(self._config)
            if address is None and daemon.get("listen"):
                address = connect_address(str(daemon["listen"]))
            if token_file is None and daemon.get("token_file"):
                token_file = str(daemon["token_file"])
        if address is None:
            # A `clues demo` running for this user (see runtime.py), else the default.
            address = published()
        token = None
        if token_file:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as exc:
                fail(f"error: token file {token_file}: {exc.strerror or exc}", EXIT_USAGE)
        try:
            self._client = ApiClient(address or DEFAULT_CLI_ADDRESS, token=token)
        except ValueError as exc:
            fail(f"error: {exc}", EXIT_USAGE)
        return self._client


def call(fn: Callable[[], T]) -> T:
    """Run one API call, mapping failures to a message on stderr and the exit code."""
    try:
        return fn()
    except DaemonUnreachable as exc:
        fail(str(exc), EXIT_UNREACHABLE)
    except ApiError as exc:
        hint = " (pass --token-file or set CLUES_TOKEN_FILE)" if exc.status == 401 else ""
        fail(f"error: {exc.message}{hint}", EXIT_FAILED)


def use_color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def since_option(text: str | None) -> float | None:
    """The value of a --since option as an epoch, or a usage error naming the option."""
    from clues_py.cli.report import parse_since

    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        why = str(exc).removeprefix(f"--since {text!r}: ")
        raise click.BadParameter(why, param_hint="--since") from None
