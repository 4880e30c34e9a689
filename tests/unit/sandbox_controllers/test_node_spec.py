"""`clues sandbox --nodes COUNTxCPUxMEMORY` parsing."""

from __future__ import annotations

import pytest

from clues_py.sandbox.standalone import NodeSpecError, parse_node_spec


def test_parse_node_spec():
    assert parse_node_spec("2x4x8Gi") == (2, "4", "8Gi")
    assert parse_node_spec("1x500mx512Mi") == (1, "500m", "512Mi")


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        ("2x4", ""),
        ("ax4x8Gi", "COUNT"),
        ("2xfourx8Gi", "CPU"),
        ("2x4x8Zi", "MEMORY"),
        ("2x0x8Gi", "CPU"),
    ],
)
def test_bad_specs_name_the_spec_and_the_form(spec, detail):
    with pytest.raises(NodeSpecError) as err:
        parse_node_spec(spec)
    assert str(err.value).startswith(f"--nodes {spec}: expected COUNTxCPUxMEMORY like 2x4x8Gi")
    assert detail in str(err.value)
