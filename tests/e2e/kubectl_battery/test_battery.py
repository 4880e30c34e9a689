"""The kubectl battery (commands.py) against a sandbox, with each kubectl the suite knows.

One test per command, in order; the commands the sandbox cannot serve are strict xfails with
their reason, and `test_pass_rate` keeps them under 5 % of the battery (the issue's bar).
"""

from __future__ import annotations

import pytest

from tests.e2e.kubectl_battery.commands import COMMANDS, Cmd
from tests.e2e.kubectl_battery.conftest import Kubectl

pytestmark = pytest.mark.e2e

PARAMS = [
    pytest.param(
        c,
        id=c.id,
        marks=[pytest.mark.xfail(strict=True, reason=c.known)]
        if c.known and not c.known_in
        else [],
    )
    for c in COMMANDS
]


@pytest.mark.parametrize("cmd", PARAMS)
def test_command(request: pytest.FixtureRequest, kubectl: Kubectl, cmd: Cmd) -> None:
    if cmd.known and cmd.known_in and cmd.known_in in kubectl.label:
        request.applymarker(pytest.mark.xfail(strict=True, reason=cmd.known))
    proc = kubectl.run(cmd.command(), cmd.stdin)
    shown = (
        f"kubectl {cmd.id}\n--- stdout\n{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-2000:]}"
    )
    assert proc.returncode == cmd.rc, shown
    out = proc.stdout if cmd.rc == 0 else proc.stdout + proc.stderr
    for text in cmd.expect:
        assert text in out, f"{text!r} missing\n{shown}"
    if cmd.rc == 0 and not cmd.warns:
        assert proc.stderr == "", shown


def test_pass_rate() -> None:
    assert len(COMMANDS) >= 120
    known = [c for c in COMMANDS if c.known]  # the worst case: every kubectl fails them all
    assert len(known) / len(COMMANDS) <= 0.05, [c.id for c in known]
