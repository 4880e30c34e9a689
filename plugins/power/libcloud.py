"""`libcloud` power manager: one cloud instance per managed node, through any libcloud driver.

Every instance is created with tags (EC2: `ex_metadata`) naming the cluster, the node and
the template, so the instances this manager owns can always be found again by tag, even
when the daemon died between the cloud call and recording the provider id. `power_on` is
idempotent per node name (an existing live instance tagged for the node is returned, a
stopped one is started) so a restarted daemon never creates a second instance for a node.
`power_off` ends every live instance tagged for the node (terminate or stop).

Credentials come from environment variables or a file, never from the YAML itself, and
never appear in logs, errors or `repr`. What to do with orphans and duplicates is decided
by `clues_py.daemon.reconcile`; this module only lists and terminates.
"""

from __future__ import annotations

import os
import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from clues_py.contracts import PORT, OwnedInstance, PluginContext, PluginError, PowerState, Range
from clues_py.model import ManagedNode, NodeTemplate

TAG_CLUSTER = "clues-py.io/cluster"
TAG_NODE = "clues-py.io/node"
TAG_TEMPLATE = "clues-py.io/template"

# libcloud NodeState values (strings, so that importing this module does not need libcloud).
_STATES = {
    "running": PowerState.ON,
    "pending": PowerState.BOOTING,
    "starting": PowerState.BOOTING,
    "rebooting": PowerState.BOOTING,
    "reconfiguring": PowerState.BOOTING,
    "migrating": PowerState.BOOTING,
    "stopping": PowerState.STOPPING,
    "stopped": PowerState.OFF,
    "suspended": PowerState.OFF,
    "paused": PowerState.OFF,
    "terminated": PowerState.OFF,
    "error": PowerState.UNKNOWN,
    "unknown": PowerState.UNKNOWN,
}
_LIVE = (PowerState.ON, PowerState.BOOTING)
# Cloud error codes worth a plain-language hint (EC2 names; other clouds fall through).
_HINTS = {
    "AuthFailure": "authentication failed: check the credentials (key_env/secret_env)",
    "InvalidCreds": "authentication failed: check the credentials (key_env/secret_env)",
    "UnauthorizedOperation": "the credentials may not perform this operation (IAM policy)",
    "InstanceLimitExceeded": "instance quota exceeded in this region",
    "VcpuLimitExceeded": "vCPU quota exceeded in this region",
    "InsufficientInstanceCapacity": "the cloud has no capacity for this size now",
    "InvalidAMIID": "the image id does not exist in this region",
    "InvalidSubnetID": "the subnet does not exist",
    "InvalidKeyPair": "the key pair does not exist",
    "InvalidGroup": "a security group does not exist",
    "InvalidParameterValue": "a parameter (size, image, ...) is not valid here",
}


class LibcloudPowerManager:
    @dataclass(frozen=True)
    class Config:
        driver: str  # libcloud provider name: ec2, openstack, gce, azure_arm, ...
        image: str  # image id (default for every template)
        size: str  # size / instance type id (default for every template)
        # Credentials: environment variable names, or a file with `key = ...` / `secret = ...`
        # lines (an ~/.aws/credentials file works). Never put secrets in the YAML.
        key_env: str = ""
        secret_env: str = ""
        credentials_file: str = ""
        region: str | None = None
        host: str | None = None
        port: Annotated[int, Range(*PORT)] | None = None
        secure: bool | None = None
        signature_version: str | None = None
        driver_args: dict[str, Any] = field(default_factory=dict)  # anything else the driver takes
        images: dict[str, str] = field(default_factory=dict)  # template -> image id
        sizes: dict[str, str] = field(default_factory=dict)  # template -> size id
        location: str = ""
        key_pair: str = ""
        security_groups: list[str] = field(default_factory=list)
        subnet: str = ""
        # string.Template: $node_name, $template, $cluster_name (other `$` text is kept).
        user_data: str = ""
        user_data_file: str = ""
        tags: dict[str, str] = field(default_factory=dict)  # extra tags on every instance
        on_power_off: Literal["terminate", "stop"] = "terminate"
        # EC2 API namespace override (moto and some EC2-compatible clouds need a newer one).
        ec2_namespace: str = ""

    def __init__(self, config: Config, context: PluginContext) -> None:
        self._cfg = config
        self._ctx = context
        self._where = f"power.{context.instance}"
        self._key, self._secret = self._credentials()
        if config.user_data and config.user_data_file:
            raise PluginError(f"{self._where}: set user_data or user_data_file, not both")
        self._user_data = config.user_data
        if config.user_data_file:
            try:
                self._user_data = Path(config.user_data_file).read_text()
            except OSError as exc:
                raise PluginError(
                    f"{self._where}.user_data_file: cannot read {config.user_data_file}: "
                    f"{exc.strerror}"
                ) from exc
        try:
            from libcloud.compute.providers import get_driver
        except ImportError as exc:
            raise PluginError(
                f"{self._where}: apache-libcloud is not installed (pip install 'clues-py[cloud]')"
            ) from exc
        try:
            self._driver_cls = get_driver(config.driver)
        except AttributeError as exc:
            raise PluginError(
                f"{self._where}.driver: unknown libcloud driver {config.driver!r} "
                "(a libcloud Provider name such as ec2, openstack, gce, azure_arm)"
            ) from exc
        if config.ec2_namespace:
            import libcloud.compute.drivers.ec2 as ec2

            ec2.NAMESPACE = config.ec2_namespace
        # libcloud connections are not thread-safe; the actuator calls from a pool.
        self._local = threading.local()
        self._driver()  # fail at start-up on bad driver arguments, not at the first power-on

    def __repr__(self) -> str:
        return f"LibcloudPowerManager(instance={self._ctx.instance!r}, driver={self._cfg.driver!r})"

    # ------------------------------------------------------------------ set-up

    def _credentials(self) -> tuple[str, str]:
        c = self._cfg
        key = secret = ""
        if c.credentials_file:
            try:
                text = Path(c.credentials_file).read_text()
            except OSError as exc:
                raise PluginError(
                    f"{self._where}.credentials_file: cannot read {c.credentials_file}: "
                    f"{exc.strerror}"
                ) from exc
            values: dict[str, str] = {}
            for line in text.splitlines():
                name, sep, value = line.partition("=")
                if sep and not line.lstrip().startswith(("#", ";", "[")):
                    values[name.strip().lower()] = value.strip()
            key = values.get("key") or values.get("aws_access_key_id", "")
            secret = values.get("secret") or values.get("aws_secret_access_key", "")
            if not key:
                raise PluginError(
                    f"{self._where}.credentials_file: {c.credentials_file} has no "
                    "`key = ...` (or aws_access_key_id) line"
                )
        for opt, var in (("key_env", c.key_env), ("secret_env", c.secret_env)):
            if var:
                value = os.environ.get(var, "")
                if not value:
                    raise PluginError(
                        f"{self._where}.{opt}: environment variable {var} is not set or empty"
                    )
                if opt == "key_env":
                    key = value
                else:
                    secret = value
        if not key:
            raise PluginError(
                f"{self._where}: no credentials; set key_env/secret_env (environment "
                "variable names) or credentials_file"
            )
        return key, secret

    def _driver(self) -> Any:
        drv = getattr(self._local, "driver", None)
        if drv is None:
            c = self._cfg
            kwargs: dict[str, Any] = dict(c.driver_args)
            for name in ("region", "host", "port", "secure", "signature_version"):
                value = getattr(c, name)
                if value is not None:
                    kwargs[name] = value
            try:
                drv = self._driver_cls(self._key, self._secret, **kwargs)
            except Exception as exc:
                raise PluginError(
                    f"{self._where}: cannot create the {c.driver} driver: {_describe_error(exc)}"
                ) from exc
            self._local.driver = drv
        return drv

    def _error(self, what: str, exc: BaseException) -> PluginError:
        return PluginError(f"{self._where}: {what}: {_describe_error(exc)}")

    # ------------------------------------------------------------------ queries

    def _tags(self, node: Any) -> dict[str, str]:
        extra = getattr(node, "extra", None) or {}
        tags = extra.get("tags") or extra.get("metadata") or extra.get("labels") or {}
        return {str(k): str(v) for k, v in dict(tags).items()}

    def _owned_nodes(self, node_name: str | None = None) -> list[Any]:
        """Cloud nodes tagged with our cluster (and `node_name`), terminated ones left out."""
        drv = self._driver()
        try:
            if self._cfg.driver == "ec2":
                filters = {f"tag:{TAG_CLUSTER}": self._ctx.cluster_name}
                if node_name is not None:
                    filters[f"tag:{TAG_NODE}"] = node_name
                nodes = drv.list_nodes(ex_filters=filters)
            else:
                nodes = drv.list_nodes()
        except Exception as exc:
            raise self._error("listing instances failed", exc) from exc
        out = []
        for n in nodes:
            tags = self._tags(n)
            if tags.get(TAG_CLUSTER) != self._ctx.cluster_name:
                continue  # never touch what is not ours
            if node_name is not None and tags.get(TAG_NODE) != node_name:
                continue
            if str(n.state) == "terminated":
                continue
            out.append(n)
        return sorted(out, key=lambda n: str(n.id))

    @staticmethod
    def _state(n: Any) -> PowerState:
        return _STATES.get(str(n.state), PowerState.UNKNOWN)

    # ------------------------------------------------------------------ contract

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        existing = self._owned_nodes(node.name)
        live = [n for n in existing if self._state(n) in _LIVE]
        if live:
            # A previous run (or a crash after the cloud call) already created it.
            return str(live[0].id)
        stopped = [n for n in existing if self._state(n) == PowerState.OFF]
        drv = self._driver()
        if stopped and self._cfg.on_power_off == "stop":
            try:
                drv.start_node(stopped[0])
            except Exception as exc:
                raise self._error(f"starting {node.name} ({stopped[0].id}) failed", exc) from exc
            return str(stopped[0].id)
        return self._create(node, template)

    def _create(self, node: ManagedNode, template: NodeTemplate) -> str:
        from libcloud.compute.base import NodeImage, NodeLocation, NodeSize

        c = self._cfg
        drv = self._driver()
        image_id = c.images.get(template.name, c.image)
        size_id = c.sizes.get(template.name, c.size)
        # Built from ids: listing every image of a cloud takes seconds and is not needed.
        kwargs: dict[str, Any] = {
            "name": node.name,
            "image": NodeImage(image_id, image_id, drv),
            # price=None means "unknown", as libcloud's own drivers pass it; its type comment
            # says `float` only.
            "size": NodeSize(size_id, size_id, 0, 0, None, None, drv),  # type: ignore[arg-type]
        }
        if c.location:
            kwargs["location"] = NodeLocation(c.location, c.location, "", drv)
        tags = {
            **c.tags,
            "Name": node.name,
            TAG_CLUSTER: self._ctx.cluster_name,
            TAG_NODE: node.name,
            TAG_TEMPLATE: template.name,
        }
        user_data = string.Template(self._user_data).safe_substitute(
            node_name=node.name, template=template.name, cluster_name=self._ctx.cluster_name
        )
        if c.driver == "ec2":
            kwargs["ex_metadata"] = tags
            if user_data:
                kwargs["ex_userdata"] = user_data
            if c.key_pair:
                kwargs["ex_keyname"] = c.key_pair
            if c.security_groups:
                kwargs["ex_security_groups"] = list(c.security_groups)
            if c.subnet:
                from libcloud.compute.drivers.ec2 import EC2NetworkSubnet

                # libcloud is py.typed but leaves this constructor unannotated.
                subnet = EC2NetworkSubnet(c.subnet, c.subnet, "available")  # type: ignore[no-untyped-call]
                kwargs["ex_subnet"] = subnet
        else:
            # The generic spellings most drivers accept (OpenStack, GCE use ex_metadata too).
            kwargs["ex_metadata"] = tags
            if user_data:
                kwargs["ex_userdata"] = user_data
            if c.key_pair:
                kwargs["ex_keyname"] = c.key_pair
            if c.security_groups:
                kwargs["ex_security_groups"] = list(c.security_groups)
        try:
            created = drv.create_node(**kwargs)
        except Exception as exc:
            # Name what was asked for: some clouds (and moto) answer 400 with no readable body.
            asked = [f"template {template.name}", f"size {size_id}", f"image {image_id}"]
            for what, value in (("location", c.location), ("subnet", c.subnet),
                                ("key pair", c.key_pair)):  # fmt: skip
                if value:
                    asked.append(f"{what} {value}")
            raise self._error(f"creating {node.name} ({', '.join(asked)}) failed", exc) from exc
        return str(created.id)

    def power_off(self, node: ManagedNode) -> None:
        # Every live instance tagged for the node, so a duplicate cannot outlive its node.
        drv = self._driver()
        for n in self._owned_nodes(node.name):
            state = self._state(n)
            if state == PowerState.OFF and (
                self._cfg.on_power_off == "stop" or str(n.state) == "terminated"
            ):
                continue
            try:
                if self._cfg.on_power_off == "stop" and state != PowerState.OFF:
                    drv.stop_node(n)
                else:
                    drv.destroy_node(n)
            except Exception as exc:
                raise self._error(f"powering off {node.name} ({n.id}) failed", exc) from exc

    def describe(self, node: ManagedNode) -> PowerState:
        states = {self._state(n) for n in self._owned_nodes(node.name)}
        for s in (PowerState.ON, PowerState.BOOTING, PowerState.STOPPING, PowerState.UNKNOWN):
            if s in states:
                return s
        return PowerState.OFF

    def list_owned(self) -> list[OwnedInstance]:
        return [
            OwnedInstance(
                provider_id=str(n.id),
                node_name=self._tags(n).get(TAG_NODE, ""),
                template=self._tags(n).get(TAG_TEMPLATE, ""),
                state=self._state(n),
            )
            for n in self._owned_nodes()
        ]

    def terminate(self, provider_id: str) -> None:
        """Optional: end one instance we own (a duplicate or an orphan) by its id."""
        for n in self._owned_nodes():
            if str(n.id) == provider_id:
                try:
                    self._driver().destroy_node(n)
                except Exception as exc:
                    raise self._error(f"terminating {provider_id} failed", exc) from exc
                return
        # Not ours or already gone: nothing to do (and never touch untagged instances).

    def close(self) -> None:
        self._local = threading.local()


def _describe_error(exc: BaseException) -> str:
    """A short operator-facing text; never includes request headers (they carry signatures)."""
    text = str(getattr(exc, "message", "") or exc or "").strip()
    code = getattr(exc, "code", None)
    name = type(exc).__name__
    if name == "InvalidCredsError":
        return "authentication failed: check the credentials (key_env/secret_env)"
    hint = next((h for k, h in _HINTS.items() if k in text), "")
    if len(text) > 300:
        text = text[:300] + "..."
    parts = [name + (f" (HTTP {code})" if isinstance(code, int) else "")]
    if text:
        parts.append(text)
    if hint:
        parts.append(f"({hint})")
    return ": ".join(parts[:2]) + (f" {parts[2]}" if len(parts) > 2 else "")
