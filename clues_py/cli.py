"""`clues`: the operator CLI. It talks to cluesd only through the HTTP API (clues_py.api).

Exit codes: 0 ok, 1 the operation failed (404/409/...), 2 usage or config error, 3 the daemon
is unreachable. `sandbox`, `demo` and `config check` delegate to modules written elsewhere,
imported lazily so a missing one breaks only its own command. Rendering lives in render.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from clues_py import __version__
from clues_py.api import DEFAULT_ADDRESS, NODE_OPS, ApiError, DaemonUnreachable
from clues_py.api.client import ApiClient

T = TypeVar("T")

EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _settings_from_config(path: str) -> dict[str, Any]:
    """`daemon:` options of a config file, read leniently: `config check` does the validating."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        _fail(f"error: config file {path}: {exc.strerror or exc}", EXIT_USAGE)
    except yaml.YAMLError as exc:
        _fail(f"error: config file {path} is not valid YAML: {exc}", EXIT_USAGE)
    daemon = data.get("daemon") if isinstance(data, dict) else None
    return daemon if isinstance(daemon, dict) else {}


def _connect_address(listen: str) -> str:
    """A wildcard listen address is reached through loopback."""
    for wildcard, loopback in (("0.0.0.0:", "127.0.0.1:"), ("[::]:", "[::1]:")):
        if listen.startswith(wildcard):
            return loopback + listen[len(wildcard) :]
    return listen


class _Settings:
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
                address = _connect_address(str(daemon["listen"]))
            if token_file is None and daemon.get("token_file"):
                token_file = str(daemon["token_file"])
        token = None
        if token_file:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as exc:
                _fail(f"error: token file {token_file}: {exc.strerror or exc}", EXIT_USAGE)
        try:
            self._client = ApiClient(address or DEFAULT_ADDRESS, token=token)
        except ValueError as exc:
            _fail(f"error: {exc}", EXIT_USAGE)
        return self._client


def _call(fn: Callable[[], T]) -> T:
    """Run one API call, mapping failures to a message on stderr and the exit code."""
    try:
        return fn()
    except DaemonUnreachable as exc:
        _fail(str(exc), EXIT_UNREACHABLE)
    except ApiError as exc:
        hint = " (pass --token-file or set CLUES_TOKEN_FILE)" if exc.status == 401 else ""
        _fail(f"error: {exc.message}{hint}", EXIT_FAILED)


def _color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--address",
    envvar="CLUES_ADDRESS",
    metavar="HOST:PORT|unix:PATH",
    help=f"Where cluesd listens [env CLUES_ADDRESS; default: daemon.listen of --config, else {DEFAULT_ADDRESS}].",
)
@click.option(
    "--token-file",
    envvar="CLUES_TOKEN_FILE",
    type=click.Path(dir_okay=False),
    help="File holding the API bearer token [env CLUES_TOKEN_FILE].",
)
@click.option(
    "--config",
    "-c",
    envvar="CLUES_CONFIG",
    type=click.Path(dir_okay=False),
    help="cluesd config file, read for daemon.listen and daemon.token_file [env CLUES_CONFIG].",
)
@click.version_option(__version__, prog_name="clues")
@click.pass_context
def main(
    ctx: click.Context, address: str | None, token_file: str | None, config: str | None
) -> None:
    """Operate cluesd, the elastic cluster manager: status, nodes, admin verbs, history."""
    ctx.obj = _Settings(address, token_file, config)


# ---------------------------------------------------------------------- status and nodes
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw status document.")
@click.option("--watch", "-w", is_flag=True, help="Redraw until Ctrl-C, like watch(1).")
@click.option(
    "--interval",
    "-n",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between redraws with --watch.",
)
@click.option("--max-frames", type=int, default=None, hidden=True)  # lets tests end --watch
@click.pass_obj
def status(
    settings: _Settings, as_json: bool, watch: bool, interval: float, max_frames: int | None
) -> None:
    """Node table and a summary of demand, like the original `clues status`."""
    from clues_py.render import render_status

    client = settings.client()
    if not watch:
        data = _call(client.status)
        if as_json:
            _echo_json(data)
        else:
            click.echo(render_status(data, color=_color()))
        return
    frames = 0
    try:
        while max_frames is None or frames < max_frames:
            try:
                data = client.status()
                text = (
                    json.dumps(data, sort_keys=True)
                    if as_json
                    else render_status(data, color=_color())
                )
            except DaemonUnreachable as exc:
                text = str(exc)  # keep watching: the daemon may be restarting
            except ApiError as exc:
                text = f"error: {exc.message}"
            if as_json:
                click.echo(text)  # one JSON document per line
            else:
                if sys.stdout.isatty():
                    click.clear()
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                click.echo(f"Every {interval:g}s: clues status    {stamp}\n\n{text}")
            frames += 1
            if max_frames is None or frames < max_frames:
                time.sleep(interval)
    except KeyboardInterrupt:
        click.echo()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the node list as JSON.")
@click.pass_obj
def nodes(settings: _Settings, as_json: bool) -> None:
    """The managed nodes, their state and usage."""
    from clues_py.render import render_nodes

    client = settings.client()
    if as_json:
        _echo_json(_call(client.nodes))
        return
    data = _call(client.status)  # for `now`, so times in state use the daemon's clock
    click.echo(render_nodes(data.get("nodes") or [], float(data.get("now") or 0), color=_color()))


def _make_op(op: str) -> click.Command:
    helps = {
        "poweron": "Power NODE on now (it must be off).",
        "poweroff": "Drain NODE and power it off (it must be idle or used).",
        "enable": "Let the planner manage NODE again.",
        "disable": "Keep the planner's hands off NODE (it stays as it is).",
        "resetstate": "Forget NODE's error state and retries; the next observation decides.",
    }

    @click.command(name=op, help=helps[op])
    @click.argument("node")
    @click.option(
        "--json", "as_json", is_flag=True, help="Print the node after the operation as JSON."
    )
    @click.pass_obj
    def command(settings: _Settings, node: str, as_json: bool) -> None:
        client = settings.client()
        result = _call(lambda: client.node_op(op, node))
        if as_json:
            _echo_json(result)
            return
        state = result.get("state")
        enabled = "" if result.get("enabled", True) else ", disabled"
        click.echo(f"{op} {node}: ok" + (f" (now {state}{enabled})" if state else ""))

    return command


for _op in NODE_OPS:
    main.add_command(_make_op(_op))


@main.command()
@click.option("--node", help="Only this node.")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="How many of each (actions, transitions).",
)
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"actions": [...], "transitions": [...]}.'
)
@click.pass_obj
def history(settings: _Settings, node: str | None, limit: int, as_json: bool) -> None:
    """Actions taken and state transitions, newest first."""
    from clues_py.render import render_history

    client = settings.client()
    actions = _call(lambda: client.actions(node, limit))
    transitions = _call(lambda: client.transitions(node, limit))
    if as_json:
        _echo_json({"actions": actions, "transitions": transitions})
    else:
        click.echo(render_history(actions, transitions))


# ---------------------------------------------------------------------- delegated commands
def _import(module: str, name: str, command: str) -> Any:
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        _fail(f"error: `clues {command}` is not available in this install ({exc})", EXIT_FAILED)


@main.command()
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port for the sandbox API server on 127.0.0.1 (0: a free one).",
)
@click.option(
    "--nodes",
    "node_specs",
    multiple=True,
    metavar="COUNTxCPUxMEM",
    help="Nodes to create, e.g. 2x4x8Gi (repeatable).",
)
@click.option(
    "--kubeconfig", type=click.Path(dir_okay=False), help="Write a kubeconfig for the sandbox here."
)
@click.option(
    "--snapshot", type=click.Path(dir_okay=False), help="Load the cluster from this snapshot file."
)
def sandbox(
    port: int, node_specs: tuple[str, ...], kubeconfig: str | None, snapshot: str | None
) -> None:
    """Run a standalone sandbox Kubernetes API server (for trying cluesd without a cluster)."""
    run_standalone = _import("clues_py.sandbox.standalone", "run_standalone", "sandbox")
    rc = run_standalone(port, list(node_specs), kubeconfig, snapshot)
    sys.exit(rc if isinstance(rc, int) else 0)


@main.command()
@click.option("--speed", type=float, help="Time runs this many times faster than the wall clock.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--jobs", type=int, help="How many jobs to submit.")
@click.option("--nodes", type=int, help="How many worker nodes the cluster may have.")
@click.option("--no-live", is_flag=True, help="No live table, just the result.")
def demo(
    speed: float | None, as_json: bool, jobs: int | None, nodes: int | None, no_live: bool
) -> None:
    """Run cluesd against a sandbox cluster and a burst of jobs, and show what it does."""
    run_demo = _import("clues_py.demo", "run_demo", "demo")
    # Only what the user gave, so the demo's own defaults apply otherwise.
    given = {
        k: v for k, v in {"speed": speed, "jobs": jobs, "nodes": nodes}.items() if v is not None
    }
    sys.exit(int(run_demo(json_out=as_json, live=not no_live, **given) or 0))


@main.group()
def config() -> None:
    """Check cluesd config files."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def config_check(file: str) -> None:
    """Validate FILE; print each error (file:line: key: message) and exit 2 if any."""
    load_config = _import("clues_py.config", "load_config", "config check")
    config_error = _import("clues_py.config", "ConfigError", "config check")
    try:
        cfg = load_config(file)
    except config_error as exc:
        errors = getattr(exc, "errors", None) or str(exc).splitlines() or [repr(exc)]
        for line in errors:
            click.echo(str(line), err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        _fail(f"{file}: {exc.strerror or exc}", EXIT_USAGE)
    n_templates = len(getattr(cfg, "templates", None) or ())
    n_nodes = len(getattr(cfg, "nodes", None) or ())
    click.echo(f"OK: {n_templates} templates, {n_nodes} nodes")


if __name__ == "__main__":
    main()
