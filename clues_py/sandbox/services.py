"""Services as kube-apiserver stores them: defaults, a cluster IP, node ports and a status.

A ClusterIP Service gets an address from 10.96.0.0/12 (10.96.0.1 is the `kubernetes`
Service's on real clusters, so allocation starts after it), NodePort and LoadBalancer Services
get node ports from 30000-32767, headless (`clusterIP: None`) and ExternalName Services get no
address. An update that omits allocated values keeps them, as the real server's
`patchAllocatedValues` does. Called from `strategy.py`; there is no kube-proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]

_NET = ipaddress.ip_network("10.96.0.0/12")
_FIRST_IP = 2  # .1 belongs to the `kubernetes` Service
_PORTS = range(30000, 32768)


def _taken_ips(stored: Iterable[Obj]) -> set[str]:
    return {
        ip
        for svc in stored
        for ip in ((svc.get("spec") or {}).get("clusterIPs") or [])
        if isinstance(ip, str)
    }


def _next_ip(taken: set[str]) -> str:
    for i in range(_FIRST_IP, _NET.num_addresses - 1):
        ip = str(_NET[i])
        if ip not in taken:
            return ip
    raise RuntimeError("service cluster IP range 10.96.0.0/12 is exhausted")


def _taken_ports(stored: Iterable[Obj]) -> set[int]:
    return {
        int(p["nodePort"])
        for svc in stored
        for p in (svc.get("spec") or {}).get("ports") or []
        if isinstance(p, dict) and p.get("nodePort")
    }


def _defaults(spec: Obj) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if spec["type"] == "ExternalName":
        return
    spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def _allocate(spec: Obj, stored: Callable[[str], Iterable[Obj]]) -> None:
    if spec["type"] == "ExternalName":
        return
    if not spec.get("clusterIP"):
        spec["clusterIP"] = _next_ip(_taken_ips(stored("services")))
    spec["clusterIPs"] = [spec["clusterIP"]]
    if spec["type"] in ("NodePort", "LoadBalancer"):
        taken = _taken_ports(stored("services"))
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                port["nodePort"] = next(p for p in _PORTS if p not in taken)
            taken.add(int(port["nodePort"]))


def prepare_create(obj: Obj, now: float, stored: Callable[[str], Iterable[Obj]]) -> None:
    spec = obj.setdefault("spec", {})
    _defaults(spec)
    _allocate(spec, stored)
    obj["status"] = {"loadBalancer": {}}


def prepare_update(old: Obj, new: Obj, now: float) -> None:
    o, n = old.get("spec") or {}, new.setdefault("spec", {})
    _defaults(n)
    if n["type"] != "ExternalName" and o.get("clusterIP") and not n.get("clusterIP"):
        n["clusterIP"], n["clusterIPs"] = o["clusterIP"], o.get("clusterIPs") or [o["clusterIP"]]
    old_ports = {p.get("port"): p.get("nodePort") for p in o.get("ports") or []}
    if n["type"] in ("NodePort", "LoadBalancer"):
        for port in n.get("ports") or []:
            if not port.get("nodePort") and old_ports.get(port.get("port")):
                port["nodePort"] = old_ports[port.get("port")]
    if "status" not in new:
        new["status"] = old.get("status") or {"loadBalancer": {}}
