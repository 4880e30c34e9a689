"""The `im` power manager against a real IM server: add, describe, list, remove VMs."""

from __future__ import annotations

from pathlib import Path

import pytest

from clues_py.contracts import PluginContext, PluginError, PowerState
from clues_py.model import ManagedNode, NodeState, NodeTemplate, Resources
from plugins.power.im import IMPowerManager, render_recipe

from .conftest import BASE_RADL, RECIPE, IMClient, IMServer

pytestmark = pytest.mark.e2e


def _template(name: str = "wn", nodes: tuple[str, ...] = ("wn-1", "wn-2")) -> NodeTemplate:
    return NodeTemplate(
        name=name,
        resources=Resources(cpu_millis=4000, memory_bytes=8 << 30),
        power="im",
        node_names=nodes,
    )


def _manager(
    server: IMServer, auth_file: Path, tmp_path: Path, **options: object
) -> IMPowerManager:
    tpl = _template()
    cfg = IMPowerManager.Config(
        url=server.url,
        auth_file=str(auth_file),
        recipes={"wn": RECIPE},
        base_radl=BASE_RADL,
        state_file=str(tmp_path / "im-infid"),
        poll_interval=0.05,
        **options,  # type: ignore[arg-type]
    )
    return IMPowerManager(cfg, PluginContext("e2e", "im", {"wn": tpl}))


def _node(name: str, provider_id: str = "") -> ManagedNode:
    return ManagedNode(
        name=name, template="wn", state=NodeState.POWERING_ON, since=0.0, provider_id=provider_id
    )


def test_power_on_describe_list_power_off(
    im_server: IMServer, auth_file: Path, tmp_path: Path
) -> None:
    pm = _manager(im_server, auth_file, tmp_path)
    client = IMClient(im_server.url)
    assert pm.list_owned() == []  # nothing created yet, and no infrastructure either
    assert not (tmp_path / "im-infid").exists()

    pid = pm.power_on(_node("wn-1"), _template())
    infid = (tmp_path / "im-infid").read_text().strip()
    assert pid.startswith(f"im://{infid}/")
    vmid = pid.rsplit("/", 1)[-1]
    assert client.vms(infid) == {vmid: ("wn-1", "configured")}
    # The recipe's placeholders reached IM.
    radl = client.call("GET", f"/infrastructures/{infid}/vms/{vmid}")["radl"]
    system = next(r for r in radl if r["class"] == "system")
    assert system["app.label"] == "e2e-wn"
    # ... and the plugin tagged the VM as ours.
    assert (system["clues.cluster"], system["clues.template"], system["clues.power"]) == (
        "e2e",
        "wn",
        "im",
    )

    assert pm.describe(_node("wn-1", pid)) == PowerState.ON
    assert pm.describe(_node("wn-2")) == PowerState.OFF
    owned = pm.list_owned()
    assert [(o.provider_id, o.node_name, o.template, o.state) for o in owned] == [
        (pid, "wn-1", "wn", PowerState.ON)
    ]

    pm.power_off(_node("wn-1", pid))
    assert client.vms(infid) == {}
    assert pm.describe(_node("wn-1", pid)) == PowerState.OFF
    pm.power_off(_node("wn-1", pid))  # already gone: idempotent
    assert pm.list_owned() == []


def test_mapping_survives_a_restart(im_server: IMServer, auth_file: Path, tmp_path: Path) -> None:
    first = _manager(im_server, auth_file, tmp_path)
    pid1 = first.power_on(_node("wn-1"), _template())
    pid2 = first.power_on(_node("wn-2"), _template())
    first.close()

    # A new process: the infrastructure id comes from the state file, the node <-> VM
    # mapping from the VMs' RADL system names, even without the stored provider ids.
    again = _manager(im_server, auth_file, tmp_path)
    assert {o.node_name: o.provider_id for o in again.list_owned()} == {
        "wn-1": pid1,
        "wn-2": pid2,
    }
    fresh = _manager(im_server, auth_file, tmp_path)
    assert fresh.describe(_node("wn-2")) == PowerState.ON
    fresh.power_off(_node("wn-2"))  # no provider id: found by name
    infid = (tmp_path / "im-infid").read_text().strip()
    assert [name for name, _ in IMClient(im_server.url).vms(infid).values()] == ["wn-1"]


def test_vms_of_other_systems_are_not_ours(
    im_server: IMServer, auth_file: Path, tmp_path: Path
) -> None:
    client = IMClient(im_server.url)
    pm = _manager(im_server, auth_file, tmp_path)
    pid = pm.power_on(_node("wn-1"), _template())
    infid = pm.infrastructure()
    # The cluster's front-end lives in the same infrastructure (as in EC3).
    front = RECIPE.replace("{node_name}", "front").replace("{cluster}", "e2e")
    client.call("POST", f"/infrastructures/{infid}?context=0", front + "deploy front 1\n")
    assert sorted(n for n, _ in client.vms(infid).values()) == ["front", "wn-1"]
    assert [o.node_name for o in pm.list_owned()] == ["wn-1"]
    pm.terminate(pid)
    assert [n for n, _ in client.vms(infid).values()] == ["front"]


def test_existing_infrastructure_and_im_errors(
    im_server: IMServer, auth_file: Path, tmp_path: Path
) -> None:
    client = IMClient(im_server.url)
    uri = client.call("POST", "/infrastructures", BASE_RADL)["uri"]
    infid = uri.rsplit("/", 1)[-1]
    pm = _manager(im_server, auth_file, tmp_path, infrastructure_id=infid)
    pid = pm.power_on(_node("wn-2"), _template())
    assert pid.startswith(f"im://{infid}/")
    assert not (tmp_path / "im-infid").exists()  # a given infrastructure is not recorded

    # IM's own message reaches the operator.
    bad = _manager(im_server, auth_file, tmp_path, infrastructure_id="no-such-inf")
    with pytest.raises(PluginError, match="HTTP 404.*Invalid infrastructure ID"):
        bad.power_on(_node("wn-1"), _template())
    nocreds = tmp_path / "nocreds.dat"
    nocreds.write_text("id = dummy; type = Dummy;\n")
    anon = _manager(im_server, nocreds, tmp_path, infrastructure_id=infid)
    with pytest.raises(PluginError, match="No credentials provided for the InfrastructureManager"):
        anon.list_owned()


def test_recreates_a_destroyed_infrastructure(
    im_server: IMServer, auth_file: Path, tmp_path: Path
) -> None:
    client = IMClient(im_server.url)
    # No contextualization: IM's background save of a contextualizing infrastructure can
    # race its destruction and bring it back (seen with IM 2.0.0).
    pm = _manager(im_server, auth_file, tmp_path, context=False)
    pm.power_on(_node("wn-1"), _template())
    old = pm.infrastructure()
    client.call("DELETE", f"/infrastructures/{old}")
    pid = pm.power_on(_node("wn-2"), _template())
    new = (tmp_path / "im-infid").read_text().strip()
    assert new != old and pid.startswith(f"im://{new}/")


def test_unreachable_im_is_a_plugin_error(auth_file: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = IMServer(f"http://127.0.0.1:{port}", tmp_path, None)  # type: ignore[arg-type]
    pm = _manager(server, auth_file, tmp_path, infrastructure_id="x")
    with pytest.raises(PluginError, match="unreachable"):
        pm.power_on(_node("wn-1"), _template())


def test_power_off_removes_duplicates_and_power_on_reuses_a_live_vm(
    im_server: IMServer, auth_file: Path, tmp_path: Path
) -> None:
    client = IMClient(im_server.url)
    pm = _manager(im_server, auth_file, tmp_path)
    pid = pm.power_on(_node("wn-1"), _template())
    assert pm.power_on(_node("wn-1"), _template()) == pid  # pressed twice: one VM
    infid = pm.infrastructure()
    # A second VM for the same node, as a crash between IM's answer and the store could leave.
    dup = render_recipe(RECIPE, "wn-1", "wn", "e2e", "im")
    client.call("POST", f"/infrastructures/{infid}?context=0", dup)
    assert [n for n, _ in client.vms(infid).values()] == ["wn-1", "wn-1"]
    pm.power_off(_node("wn-1", pid))
    assert client.vms(infid) == {}


def test_a_stopped_vm_is_off_and_replaced_on_power_on(
    im_server: IMServer, auth_file: Path, tmp_path: Path
) -> None:
    client = IMClient(im_server.url)
    pm = _manager(im_server, auth_file, tmp_path)
    pid = pm.power_on(_node("wn-1"), _template())
    infid, vmid = pid[len("im://") :].split("/")
    client.call("PUT", f"/infrastructures/{infid}/vms/{vmid}/stop")
    assert client.vms(infid) == {vmid: ("wn-1", "stopped")}
    assert pm.describe(_node("wn-1", pid)) == PowerState.OFF
    assert [o.state for o in pm.list_owned()] == [PowerState.OFF]
    new = pm.power_on(_node("wn-1", pid), _template())
    assert new != pid
    assert client.vms(infid) == {new.rsplit("/", 1)[-1]: ("wn-1", "configured")}
