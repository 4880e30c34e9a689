"""`clues`: the operator CLI. It talks to cluesd only through the HTTP API (clues_py.api).

This module holds `main` (the click group and its global options) and the daemon-facing
commands: status, nodes, the node verbs, explain and history. The commands that work without
a daemon (report, config, demo, sandbox) are tools.py's and `sim` is sim/cli.py's; both
are registered on `main` here. Address/token resolution, exit codes and the API-error mapping
are common.py's, rendering is render.py's.

Exit codes: 0 ok, 1 the operation failed (404/409/...), 2 usage or config error, 3 the daemon
is unreachable.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from clues_py import __version__
from clues_py.api import NODE_OPS, ApiError, DaemonUnreachable
from clues_py.cli.common import DEFAULT_CLI_ADDRESS as DEFAULT_CLI_ADDRESS
from clues_py.cli.common import (
    SINCE_HELP,
    Settings,
    call,
    connect_address,
    echo_json,
    fail,
    since_option,
    use_color,
)

# Tests import `_connect_address` and `DEFAULT_CLI_ADDRESS` from here, where they lived
# before common.py.
_connect_address = connect_address


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--address",
    envvar="CLUES_ADDRESS",
    metavar="HOST:PORT|unix:PATH",
    help=(
        "Where cluesd listens [env CLUES_ADDRESS; default: daemon.listen of --config, else "
        f"the address a running `clues demo` published, else {DEFAULT_CLI_ADDRESS}]."
    ),
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
    ctx.obj = Settings(address, token_file, config)


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
    settings: Settings, as_json: bool, watch: bool, interval: float, max_frames: int | None
) -> None:
    """Node table and a summary of demand, like the original `clues status`."""
    from clues_py.cli.render import render_status

    client = settings.client()
    if not watch:
        data = call(client.status)
        if as_json:
            echo_json(data)
        else:
            click.echo(render_status(data, color=use_color()))
        return
    frames = 0
    try:
        while max_frames is None or frames < max_frames:
            try:
                data = client.status()
                text = (
                    json.dumps(data, sort_keys=True)
                    if as_json
                    else render_status(data, color=use_color())
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
def nodes(settings: Settings, as_json: bool) -> None:
    """The managed nodes, their state and usage."""
    from clues_py.cli.render import render_nodes

    client = settings.client()
    if as_json:
        echo_json(call(client.nodes))
        return
    data = call(client.status)  # for `now`, so times in state use the daemon's clock
    click.echo(
        render_nodes(data.get("nodes") or [], float(data.get("now") or 0), color=use_color())
    )


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
    def command(settings: Settings, node: str, as_json: bool) -> None:
        client = settings.client()
        result = call(lambda: client.node_op(op, node))
        if as_json:
            echo_json(result)
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
        if data.get("demand") is False:
            state = "not demand (see why below)"
        elif data.get("pending"):
            state = "pending"
        else:
            state = "not pending (running, finished or unknown)"
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
def explain_pod(settings: Settings, pod: str, as_json: bool) -> None:
    """Explain a pending pod, or hidden work: job:NS/NAME, workload:NS/NAME,
    provisioningrequest:NS/NAME (or NS/NAME of any of them)."""
    if "/" not in pod:
        fail(f"expected NAMESPACE/NAME, got {pod!r} (e.g. clues explain pod oscar/job-1)", 2)
    client = settings.client()
    data = call(lambda: client.explain("pod", pod))
    echo_json(data) if as_json else click.echo(render_explanation(data))


@explain.command(name="node")
@click.argument("node")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_obj
def explain_node(settings: Settings, node: str, as_json: bool) -> None:
    """Explain what the planner decided about NODE."""
    client = settings.client()
    data = call(lambda: client.explain("node", node))
    echo_json(data) if as_json else click.echo(render_explanation(data))


@main.command()
@click.option("--node", help="Only this node.")
@click.option("--since", metavar="DURATION|TIME", help=SINCE_HELP)
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
    settings: Settings,
    node: str | None,
    since: str | None,
    kinds: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Actions taken and state transitions, newest first."""
    from clues_py.cli.render import render_history

    since_at = since_option(since)
    wanted = tuple(k.strip() for v in kinds for k in v.split(",") if k.strip())
    client = settings.client()
    actions = call(lambda: client.actions(node, limit, since_at, wanted))
    transitions = call(lambda: client.transitions(node, limit, since_at, wanted))
    if as_json:
        echo_json({"actions": actions, "transitions": transitions})
    elif not actions and not transitions and (node or since_at is not None or wanted):
        click.echo("no history matches these filters")
    else:
        click.echo(render_history(actions, transitions))


# ---------------------------------------------------------------------- other modules' commands
def _register_other_commands() -> None:
    # Light imports: each command imports its heavy modules only when it runs.
    from clues_py.cli.tools import config, demo, report, sandbox
    from clues_py.sim.cli import sim

    for command in (config, demo, report, sandbox):
        main.add_command(command)
    main.add_command(sim, name="sim")


_register_other_commands()


if __name__ == "__main__":
    main()
