"""Kubeconfig files pointing kubectl and the Python client at a sandbox API server (no auth)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def kubeconfig_dict(server_url: str, context: str = "clues-sandbox") -> dict[str, Any]:
    """The kubeconfig as a dict: one cluster, one user without credentials, one context."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server_url}}],
        "users": [{"name": context, "user": {}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": "default"},
            }
        ],
        "current-context": context,
    }


def write_kubeconfig(path: str | Path, server_url: str, context: str = "clues-sandbox") -> Path:
    """Write a kubeconfig for the plain-HTTP sandbox server at `server_url`; returns the path.

    Written whole or not at all (a temporary file renamed into place): whoever waits for
    the file to appear never reads half of it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        yaml.safe_dump(kubeconfig_dict(server_url, context), sort_keys=False), encoding="utf-8"
    )
    os.replace(tmp, path)
    return path
