"""A moto EC2 server on 127.0.0.1 and helpers to drive and inspect it with libcloud.

moto keeps its state per process, so every test uses its own cluster name (instances
are found by the cluster tag) instead of restarting the server.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from clues_py.contracts import PluginContext
from clues_py.model import NodeTemplate
from plugins.power.libcloud import TAG_CLUSTER, TAG_NODE, LibcloudPowerManager

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15"
KEY_ENV, SECRET_ENV = "CLUES_TEST_EC2_KEY", "CLUES_TEST_EC2_SECRET"
_names = itertools.count(1)


def unique_cluster(prefix: str = "t") -> str:
    return f"{prefix}-{os.getpid()}-{next(_names)}"


@dataclass
class MotoCloud:
    port: int
    image: str
    _local: threading.local = field(default_factory=threading.local)

    def options(self, **overrides: Any) -> dict[str, Any]:
        """Options of a `kind: libcloud` power section pointing at this server."""
        opts: dict[str, Any] = {
            "driver": "ec2",
            "image": self.image,
            "size": "t2.micro",
            "key_env": KEY_ENV,
            "secret_env": SECRET_ENV,
            "region": "us-east-1",
            "host": "127.0.0.1",
            "port": self.port,
            "secure": False,
            "signature_version": "4",
            "ec2_namespace": NAMESPACE,
            "user_data": "#!/bin/sh\nkubeadm join --node-name $node_name  # $cluster_name/$template\n",
        }
        opts.update(overrides)
        return opts

    def power_manager(
        self, cluster: str, templates: dict[str, NodeTemplate] | None = None, **overrides: Any
    ) -> LibcloudPowerManager:
        cfg = LibcloudPowerManager.Config(**self.options(**overrides))
        return LibcloudPowerManager(cfg, PluginContext(cluster, "cloud", templates or {}))

    def driver(self) -> Any:
        drv = getattr(self._local, "driver", None)
        if drv is None:
            import libcloud.compute.drivers.ec2 as ec2
            from libcloud.compute.providers import get_driver

            ec2.NAMESPACE = NAMESPACE
            drv = get_driver("ec2")(
                "inspector", "inspector", region="us-east-1", host="127.0.0.1",
                port=self.port, secure=False, signature_version="4",
            )  # fmt: skip
            self._local.driver = drv
        return drv

    def instances(self, cluster: str) -> list[Any]:
        """Every instance tagged with `cluster`, terminated ones included."""
        return list(self.driver().list_nodes(ex_filters={f"tag:{TAG_CLUSTER}": cluster}))

    def live(self, cluster: str) -> dict[str, list[str]]:
        """node name -> ids of its pending/running instances."""
        out: dict[str, list[str]] = {}
        for n in self.instances(cluster):
            if str(n.state) in ("pending", "running"):
                out.setdefault(n.extra["tags"].get(TAG_NODE, ""), []).append(n.id)
        return out

    def create_raw(self, name: str, tags: dict[str, str] | None = None) -> str:
        """An instance made behind clues-py's back (foreign, or forged to look like ours)."""
        from libcloud.compute.base import NodeImage, NodeSize

        drv = self.driver()
        node = drv.create_node(
            name=name,
            image=NodeImage(self.image, "", drv),
            size=NodeSize("t2.micro", "", 0, 0, None, None, drv),
            ex_metadata=tags or {"Name": name},
        )
        return str(node.id)

    def state_of(self, provider_id: str) -> str:
        return str(self.driver().list_nodes(ex_node_ids=[provider_id])[0].state)


@pytest.fixture(scope="session")
def moto_cloud() -> Iterator[MotoCloud]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault(KEY_ENV, "AKIDCLUESTEST")
    os.environ.setdefault(SECRET_ENV, "clues-test-secret")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    cloud = MotoCloud(port=port, image="")
    images = cloud.driver().list_images(ex_filters={"name": "amzn2-ami-hvm-*x86_64-gp2"})
    assert images, "moto registered no Amazon Linux 2 image"
    cloud.image = images[0].id
    try:
        yield cloud
    finally:
        server.stop()
