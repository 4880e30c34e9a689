"""Node-name patterns of `templates[].nodes`: `wn-[1-3]`, `wn-[01-10]`, `a,b`.

Pure string expansion and validation, raising `NodeNameError` with a message that names the
fix; attaching the message to a file:line is left to `clues_py.config.check`. Re-exported by
`clues_py.config.load`; import from there.
"""

from __future__ import annotations

import re

MAX_PATTERN_NODES = 100_000
_NODE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_RANGE_RE = re.compile(r"\[(\d+)-(\d+)\]")


class NodeNameError(ValueError):
    """A `nodes:` entry that is not a valid name, list or range pattern."""


def expand_node_names(pattern: str) -> list[str]:
    """`wn-[1-3]` -> wn-1..wn-3, `wn-[01-10]` keeps the padding, `a,b` is a list."""
    out: list[str] = []
    for part in (p.strip() for p in pattern.split(",")):
        if not part:
            raise NodeNameError(f"empty name in {pattern!r}")
        ranges = _RANGE_RE.findall(part)
        if len(ranges) > 1:
            raise NodeNameError(f"only one [a-b] range per pattern: {part!r}")
        if ranges:
            a, b = ranges[0]
            lo, hi = int(a), int(b)
            if lo > hi:
                raise NodeNameError(f"range [{a}-{b}] in {part!r} goes backwards")
            if hi - lo + 1 > MAX_PATTERN_NODES:
                raise NodeNameError(f"range [{a}-{b}] has more than {MAX_PATTERN_NODES} names")
            width = len(a) if a.startswith("0") and len(a) > 1 else 0
            m = _RANGE_RE.search(part)
            assert m is not None
            prefix, suffix = part[: m.start()], part[m.end() :]
            names = [f"{prefix}{i:0{width}d}{suffix}" for i in range(lo, hi + 1)]
        else:
            names = [part]
        for n in names:
            if not _NODE_NAME_RE.match(n) or len(n) > 253:
                raise NodeNameError(
                    f"{n!r} is not a valid node name or pattern: "
                    "use lowercase letters, digits, '-' and '.', and ranges like wn-[1-10]"
                )
        out.extend(names)
    return out
