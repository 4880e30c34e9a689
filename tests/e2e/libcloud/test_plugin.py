"""The libcloud power manager on its own against moto: credentials, tags, user data, stop mode."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from clues_py.contracts import PluginError, PowerState
from clues_py.model import ManagedNode, NodeTemplate, Resources
from plugins.power.libcloud import TAG_CLUSTER, TAG_NODE, TAG_TEMPLATE

from .cloud import KEY_ENV, SECRET_ENV, MotoCloud, unique_cluster

T = NodeTemplate(
    name="gpu", resources=Resources(cpu_millis=4000, memory_bytes=8 << 30), power="cloud"
)


def test_instances_are_tagged_and_get_the_rendered_user_data(moto_cloud: MotoCloud) -> None:
    import boto3

    cluster = unique_cluster("tags")
    pm = moto_cloud.power_manager(cluster, sizes={"gpu": "m5.large"}, tags={"team": "hpc"})
    pid = pm.power_on(ManagedNode(name="gpu-1", template="gpu"), T)
    inst = moto_cloud.driver().list_nodes(ex_node_ids=[pid])[0]
    assert inst.extra["tags"] == {"Name": "gpu-1", TAG_CLUSTER: cluster, TAG_NODE: "gpu-1",
                                  TAG_TEMPLATE: "gpu", "team": "hpc"}  # fmt: skip
    assert inst.extra["instance_type"] == "m5.large"
    ec2 = boto3.client(
        "ec2", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{moto_cloud.port}",
        aws_access_key_id="x", aws_secret_access_key="y",
    )  # fmt: skip
    attr = ec2.describe_instance_attribute(InstanceId=pid, Attribute="userData")
    text = base64.b64decode(attr["UserData"]["Value"]).decode()
    assert text == f"#!/bin/sh\nkubeadm join --node-name gpu-1  # {cluster}/gpu\n"
    pm.power_off(ManagedNode(name="gpu-1", template="gpu"))


def test_stop_mode_stops_and_restarts_the_same_instance(moto_cloud: MotoCloud) -> None:
    pm = moto_cloud.power_manager(unique_cluster("stop"), on_power_off="stop")
    node = ManagedNode(name="gpu-2", template="gpu")
    pid = pm.power_on(node, T)
    pm.power_off(node)
    assert moto_cloud.state_of(pid) == "stopped"
    assert pm.describe(node) == PowerState.OFF
    pm.power_off(node)  # idempotent
    assert pm.power_on(node, T) == pid
    assert pm.describe(node) in (PowerState.ON, PowerState.BOOTING)
    assert [o.provider_id for o in pm.list_owned()] == [pid]


def test_credentials_come_from_env_or_file_and_never_show(
    moto_cloud: MotoCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cr3t-VALUE")
    pm = moto_cloud.power_manager(unique_cluster("cred"), subnet="subnet-nope")
    assert "s3cr3t" not in repr(pm)
    with pytest.raises(PluginError) as info:
        pm.power_on(ManagedNode(name="gpu-3", template="gpu"), T)
    assert "s3cr3t" not in str(info.value) and "subnet" in str(info.value)

    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(PluginError, match=rf"power.cloud.key_env: environment variable {KEY_ENV}"):
        moto_cloud.power_manager("c")

    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = fromfile\n")
    pm = moto_cloud.power_manager("c", key_env="", secret_env="", credentials_file=str(creds))
    assert pm.list_owned() == []  # the file's keys were accepted and used
    with pytest.raises(PluginError, match="no credentials"):
        moto_cloud.power_manager("c", key_env="", secret_env="")
    with pytest.raises(PluginError, match="credentials_file: cannot read"):
        moto_cloud.power_manager("c", key_env="", credentials_file=str(tmp_path / "missing"))


def test_unknown_driver_is_a_clear_error(moto_cloud: MotoCloud) -> None:
    with pytest.raises(PluginError, match="unknown libcloud driver 'ec3'"):
        moto_cloud.power_manager("c", driver="ec3")


def test_config_is_validated_by_the_plugin_loader(tmp_path: Path) -> None:
    from clues_py.config.load import ConfigError, load_config
    from clues_py.plugins import check_plugins

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "power:\n  cloud:\n    kind: libcloud\n    driver: ec2\n    image: ami-1\n"
        "    size: t3.small\n    on_power_off: hibernate\n    secuirty_groups: [a]\n"
    )
    with pytest.raises(ConfigError) as info:
        check_plugins(load_config(cfg))
    text = str(info.value)
    assert "c.yaml:7:5: power.cloud.on_power_off: must be one of 'terminate', 'stop'" in text
    assert "c.yaml:8:5: power.cloud.secuirty_groups: unknown option" in text
    assert "security_groups" in text
