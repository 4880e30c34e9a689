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
from clues_py.api import NODE_OPS, ApiError, DaemonUnreachable
from clues_py.api.client import ApiClient

T = TypeVar("T")

EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3
# cluesd's default daemon.listen (clues_py.config.DaemonConfig.listen).
DEFAULT_CLI_ADDRESS = "unix:/run/clues/clues.sock"


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
            self._client = ApiClient(address or DEFAULT_CLI_ADDRESS, token=token)
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
    help=f"Where cluesd listens [env CLUES_ADDRESS; default: daemon.listen of --config, else {DEFAULT_CLI_ADDRESS}].",
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


def render_explanation(data: dict[str, Any]) -> str:
    """Plain-text form of an explain document (GET /v1/explain/...)."""
    lines = []
    if data.get("kind") == "node":
        node = data.get("node") or {}
        lines.append(
            f"node {node.get('name')} ({node.get('template')}): {node.get('state')}"
            + ("" if node.get("enabled", True) else ", disabled")
        )
    else:
        state = "pending" if data.get("pending") else "not pending (running, finished or unknown)"
        lines.append(f"{data.get('key')}: {state}")
    action, decision = data.get("action"), data.get("decision")
    if action:
        lines.append(
            f"  last plan: {action['kind']} {action['node']} ({action['template']}) "
            f"by policy {action['policy']}"
        )
        lines.append(f"  because: {action['reason']}")
    if decision:
        lines.append(f"  last plan: policy {decision['policy']} decided: {decision['reason']}")
    if not action and not decision:
        lines.append("  last plan: nothing to do for it")
    history = data.get("history") or []
    if history:
        lines.append("  decisions (newest first):")
        lines += [f"    {_when_text(h.get('at'))}  {h.get('reason')}" for h in history[:10]]
    return "\n".join(lines)


def _when_text(at: Any) -> str:
    import datetime as _dt

    try:
        return _dt.datetime.fromtimestamp(float(at)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


@main.group()
def explain() -> None:
    """Why a pod or a node was (or was not) acted upon, and by which policy."""


@explain.command(name="pod")
@click.argument("pod", metavar="NAMESPACE/NAME")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_obj
def explain_pod(settings: _Settings, pod: str, as_json: bool) -> None:
    """Explain a pending pod (or a suspended Job: job:NAMESPACE/NAME)."""
    if "/" not in pod:
        _fail(f"expected NAMESPACE/NAME, got {pod!r} (e.g. clues explain pod oscar/job-1)", 2)
    client = settings.client()
    data = _call(lambda: client.explain("pod", pod))
    _echo_json(data) if as_json else click.echo(render_explanation(data))


@explain.command(name="node")
@click.argument("node")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_obj
def explain_node(settings: _Settings, node: str, as_json: bool) -> None:
    """Explain what the planner decided about NODE."""
    client = settings.client()
    data = _call(lambda: client.explain("node", node))
    _echo_json(data) if as_json else click.echo(render_explanation(data))


def _since(text: str | None) -> float | None:
    from clues_py.report import parse_since

    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        why = str(exc).removeprefix(f"--since {text!r}: ")
        raise click.BadParameter(why, param_hint="--since") from None


_SINCE_HELP = "Only since then: a duration before now (90s, 30m, 2h, 1d), an ISO time or epoch."


@main.command()
@click.option("--node", help="Only this node.")
@click.option("--since", metavar="DURATION|TIME", help=_SINCE_HELP)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    metavar="KIND",
    help="Only actions of this kind (power_on, power_off) and transitions into this state "
    "(off, idle, on_error...). Repeat it or give a comma list.",
)
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
def history(
    settings: _Settings,
    node: str | None,
    since: str | None,
    kinds: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Actions taken and state transitions, newest first."""
    from clues_py.render import render_history

    since_at = _since(since)
    wanted = tuple(k.strip() for v in kinds for k in v.split(",") if k.strip())
    client = settings.client()
    actions = _call(lambda: client.actions(node, limit, since_at, wanted))
    transitions = _call(lambda: client.transitions(node, limit, since_at, wanted))
    if as_json:
        _echo_json({"actions": actions, "transitions": transitions})
    elif not actions and not transitions and (node or since_at is not None or wanted):
        click.echo("no history matches these filters")
    else:
        click.echo(render_history(actions, transitions))


@main.command()
@click.option(
    "--html",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the HTML report here.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, exists=True),
    help="Read this state database instead of asking the daemon.",
)
@click.option("--since", metavar="DURATION|TIME", help=_SINCE_HELP)
@click.option("--title", default="cluesd report", show_default=True, help="Page title.")
@click.pass_obj
def report(settings: _Settings, out: str, db: str | None, since: str | None, title: str) -> None:
    """A self-contained HTML report: nodes by state over time, actions, waits, errors."""
    from clues_py.report import load_history, render_report

    since_at = _since(since)
    if db is not None:
        from clues_py.store import StoreError

        try:
            hist = load_history(db=db, since=since_at)
        except StoreError as exc:
            _fail(f"error: {exc}", EXIT_USAGE)
    else:
        client = settings.client()
        hist = _call(lambda: load_history(client=client, since=since_at))
    Path(out).write_text(render_report(hist, title=title), encoding="utf-8")
    click.echo(f"wrote {out}: {len(hist.actions)} actions, {len(hist.transitions)} transitions")


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


def _sim_group() -> click.Group:
    from clues_py.sim.cli import sim as sim_group  # light: heavy imports happen per command

    return sim_group


main.add_command(_sim_group(), name="sim")


@main.group()
def config() -> None:
    """Check, show and migrate cluesd configuration files."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def config_check(file: str) -> None:
    """Validate FILE; print each error (file:line: key: message) and exit 2 if any."""
    load_config = _import("clues_py.config", "load_config", "config check")
    config_error = _import("clues_py.config", "ConfigError", "config check")
    check_plugins = _import("clues_py.plugins", "check_plugins", "config check")
    try:
        cfg = load_config(file)
        # Plugin options (power managers, backend, policies) are validated by each plugin's
        # own Config dataclass, with the same file:line: key: message form.
        check_plugins(cfg)
    except config_error as exc:
        errors = getattr(exc, "errors", None) or str(exc).splitlines() or [repr(exc)]
        for line in errors:
            click.echo(str(line), err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        _fail(f"{file}: {exc.strerror or exc}", EXIT_USAGE)
    n_templates = len(getattr(cfg, "templates", None) or ())
    n_nodes = sum(len(t.node_names) for t in getattr(cfg, "templates", None) or ())
    click.echo(f"OK: {n_templates} templates, {n_nodes} nodes")


@config.command("show")
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.pass_context
def config_show(ctx: click.Context, file: str | None) -> None:
    """Print the effective config of FILE (default: --config, else /etc/clues/clues.yaml) as
    YAML, defaults filled in; values of secret-looking keys (password, secret, token, key,
    credentials...) are redacted."""
    import yaml

    from clues_py.config import ConfigError, load_config
    from clues_py.redact import effective_config

    path = file or ctx.find_root().params.get("config") or "/etc/clues/clues.yaml"
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        for line in exc.errors:
            click.echo(str(line), err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"# effective configuration of {path} (secrets redacted)")
    click.echo(yaml.safe_dump(effective_config(cfg), sort_keys=False).rstrip())


@config.command("migrate")
@click.argument("clues2_cfg", type=click.Path(dir_okay=False))
@click.option(
    "--vnodes",
    type=click.Path(dir_okay=False),
    help="kubernetes_vnodes.info [default: the one beside CLUES2_CFG, if any].",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write the YAML here [default: stdout]."
)
def config_migrate(clues2_cfg: str, vnodes: str | None, output: str | None) -> None:
    """Turn an original CLUES 2 config (clues2.cfg + conf.d) into clues-py YAML.

    Options that are not carried over, or change meaning, are listed on stderr as
    file:line: KEY: why. Exit 2 if an input file cannot be read or parsed.
    """
    migrate = _import("clues_py.migrate", "migrate", "config migrate")
    source_error = _import("clues_py.migrate_sources", "SourceError", "config migrate")
    from clues_py.config import ConfigError, parse_config

    try:
        result = migrate(clues2_cfg, vnodes)
    except source_error as exc:
        _fail(f"error: {exc}", EXIT_USAGE)
    text = result.to_yaml()
    try:
        cfg = parse_config(text, output or "<migrated>")
    except ConfigError as exc:  # a bug in the migration, not in the input
        _fail(f"error: the migrated config does not validate (please report):\n{exc}", EXIT_FAILED)
    for finding in result.findings:
        click.echo(str(finding), err=True)
    if output:
        Path(output).write_text(text)
    else:
        click.echo(text, nl=False)
    dropped = sum(1 for f in result.findings if f.dropped)
    nodes = sum(len(t.node_names) for t in cfg.templates)
    click.echo(
        f"migrated: {len(cfg.templates)} templates, {nodes} nodes, power {', '.join(cfg.power) or '-'}"
        f"; {dropped} options not migrated, {len(result.findings) - dropped} notes"
        + (f"; wrote {output}" if output else ""),
        err=True,
    )


if __name__ == "__main__":
    main()
