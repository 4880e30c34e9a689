"""`clues` commands that work without a running cluesd: report, config, demo, sandbox.

`config check/show/migrate`, `demo` and `sandbox` delegate to modules written elsewhere
(config/load.py, config/migrate/, demo.py, sandbox/standalone.py), imported lazily so that a missing
one breaks only its own command; `report` reads a state database or asks the daemon. The
`main` group that registers these, and the daemon-facing commands, are main.py's; `sim` is
sim/cli.py's; shared helpers and exit codes are common.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from clues_py.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    SINCE_HELP,
    Settings,
    call,
    fail,
    since_option,
)


@click.command()
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
@click.option("--since", metavar="DURATION|TIME", help=SINCE_HELP)
@click.option("--title", default="cluesd report", show_default=True, help="Page title.")
@click.pass_obj
def report(settings: Settings, out: str, db: str | None, since: str | None, title: str) -> None:
    """A self-contained HTML report: nodes by state over time, actions, waits, errors."""
    from clues_py.cli.report import load_history, render_report

    since_at = since_option(since)
    if db is not None:
        from clues_py.store import StoreError

        try:
            hist = load_history(db=db, since=since_at)
        except StoreError as exc:
            fail(f"error: {exc}", EXIT_USAGE)
    else:
        client = settings.client()
        hist = call(lambda: load_history(client=client, since=since_at))
    Path(out).write_text(render_report(hist, title=title), encoding="utf-8")
    click.echo(f"wrote {out}: {len(hist.actions)} actions, {len(hist.transitions)} transitions")


def _import(module: str, name: str, command: str) -> Any:
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        fail(f"error: `clues {command}` is not available in this install ({exc})", EXIT_FAILED)


@click.command()
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
@click.option(
    "--default-pod-duration",
    metavar="DURATION",
    help="How long pods run whose command the sandbox cannot read, e.g. 30s or 2m "
    "(default: until deleted). `sleep N`, `sh -c ...; exit N` are understood anyway.",
)
@click.option(
    "--no-kueue",
    is_flag=True,
    help="Without the built-in small Kueue: its API groups (kueue.x-k8s.io, "
    "autoscaling.x-k8s.io) answer 404, as in a cluster where Kueue is not installed.",
)
def sandbox(
    port: int,
    node_specs: tuple[str, ...],
    kubeconfig: str | None,
    snapshot: str | None,
    default_pod_duration: str | None,
    no_kueue: bool,
) -> None:
    """Run a standalone sandbox Kubernetes API server (for trying cluesd without a cluster)."""
    run_standalone = _import("clues_py.sandbox.standalone", "run_standalone", "sandbox")
    try:
        rc = run_standalone(
            port,
            list(node_specs),
            kubeconfig,
            snapshot,
            default_pod_duration=default_pod_duration,
            **({"kueue": False} if no_kueue else {}),
        )
    except ValueError as exc:  # a bad --nodes or --default-pod-duration, named in the message
        fail(f"error: {exc}", EXIT_USAGE)
    sys.exit(rc if isinstance(rc, int) else 0)


# The demo's defaults, shown by --help; tests check they are run_demo's own.
DEMO_DEFAULTS = {"speed": 4.0, "jobs": 100, "nodes": 10}


@click.command()
@click.option(
    "--speed",
    type=float,
    default=DEMO_DEFAULTS["speed"],
    show_default=True,
    help="Run the scenario this many times faster than real time (a 2 min job takes 2/SPEED).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--jobs", type=int, default=DEMO_DEFAULTS["jobs"], show_default=True, help="Jobs to submit."
)
@click.option(
    "--nodes",
    type=int,
    default=DEMO_DEFAULTS["nodes"],
    show_default=True,
    help="Worker nodes the cluster may have (all off at the start).",
)
@click.option("--no-live", is_flag=True, help="No live table: a progress line now and then.")
@click.option(
    "--kueue",
    is_flag=True,
    help="Run OSCAR as OSCAR runs it with Kueue: a ClusterQueue with the nodes' total as quota, "
    "a LocalQueue per service, Jobs created suspended with the queue label, limits only.",
)
@click.option(
    "--provisioning",
    is_flag=True,
    help="Also give the ClusterQueue Kueue's provisioning admission check: Kueue asks clues-py "
    "for the nodes through ProvisioningRequests (best-effort-atomic) first. Implies --kueue.",
)
def demo(
    speed: float,
    as_json: bool,
    jobs: int,
    nodes: int,
    no_live: bool,
    kueue: bool,
    provisioning: bool,
) -> None:
    """Run cluesd against a sandbox cluster and a burst of OSCAR-shaped jobs, and show it.

    With the defaults it takes about 2.5 minutes (--speed 30: about 25 s). While it runs,
    `clues status --watch`, `clues nodes` and `clues history` in another terminal show the
    demo's daemon (the address is published in a per-user runtime file). Every time shown
    is wall-clock seconds.
    """
    run_demo = _import("clues_py.cli.demo", "run_demo", "demo")
    rc = run_demo(
        speed=speed,
        jobs=jobs,
        nodes=nodes,
        json_out=as_json,
        live=not no_live,
        **({"kueue": True, "provisioning": provisioning} if kueue or provisioning else {}),
    )
    sys.exit(int(rc or 0))


@click.group()
def config() -> None:
    """Check, show and migrate cluesd configuration files."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--portable",
    is_flag=True,
    help="Check the file only, not the files, credentials and kubeconfig it names on this "
    "machine (for a config meant for another one).",
)
def config_check(file: str, portable: bool) -> None:
    """Validate FILE as cluesd would start with it here (`cluesd --check` runs the same
    checks): print each error as FILE:LINE:COL: KEY: message (hint) and exit 2 if any."""
    check_file = _import("clues_py.daemon.preflight", "check_file", "config check")
    config_error = _import("clues_py.config.load", "ConfigError", "config check")
    try:
        checked = check_file(file, here=not portable)
    except config_error as exc:
        for line in getattr(exc, "errors", None) or str(exc).splitlines() or [repr(exc)]:
            click.echo(str(line), err=True)
        sys.exit(EXIT_USAGE)
    checked.close()
    templates = checked.cfg.templates
    n_nodes = sum(len(t.node_names) for t in templates)
    click.echo(f"OK: {len(templates)} templates, {n_nodes} nodes")


@config.command("show")
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.pass_context
def config_show(ctx: click.Context, file: str | None) -> None:
    """Print the effective config of FILE (default: --config, else /etc/clues/clues.yaml) as
    YAML, defaults filled in; values of secret-looking keys (password, secret, token, key,
    credentials...) are redacted."""
    import yaml

    from clues_py.config.load import ConfigError, load_config
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
    migrate = _import("clues_py.config.migrate.convert", "migrate", "config migrate")
    source_error = _import("clues_py.config.migrate.sources", "SourceError", "config migrate")
    from clues_py.config.load import ConfigError, parse_config

    try:
        result = migrate(clues2_cfg, vnodes)
    except source_error as exc:
        fail(f"error: {exc}", EXIT_USAGE)
    text = result.to_yaml()
    try:
        cfg = parse_config(text, output or "<migrated>")
    except ConfigError as exc:  # a bug in the migration, not in the input
        fail(f"error: the migrated config does not validate (please report):\n{exc}", EXIT_FAILED)
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
