"""`Reasons` behaves as the dict built by the same writes, and `changed`/`gone` between two
maps sharing chunks say what comparing plain dicts says (random write sequences)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clues_py.planner.reasons import Reasons, changed, gone

KEYS = [f"ns/p{i}" for i in range(12)]
VALUES = ["a", "b", "c"]

chunk = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=8)
# ("set", key, value) | ("update", dict) | ("chunk", index into a pool shared by both maps)
write = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.tuples(st.just("update"), chunk),
    st.tuples(st.just("chunk"), st.integers(0, 3)),
)


def build(writes: list[tuple[object, ...]], pool: list[dict[str, str]]) -> tuple[Reasons, dict]:
    r, d = Reasons(), {}
    for w in writes:
        if w[0] == "set":
            r[w[1]] = w[2]  # type: ignore[index]
            d[w[1]] = w[2]
        elif w[0] == "update":
            r.update(w[1])  # type: ignore[arg-type]
            d.update(w[1])  # type: ignore[arg-type]
        else:
            r.add_chunk(pool[w[1]])  # type: ignore[index]
            d.update(pool[w[1]])  # type: ignore[index]
    return r, d


@settings(max_examples=300, deadline=None)
@given(
    pool=st.lists(chunk, min_size=4, max_size=4),
    a=st.lists(write, max_size=10),
    b=st.lists(write, max_size=10),
)
def test_reasons_act_as_dicts_and_compare_by_chunk(
    pool: list[dict[str, str]], a: list[tuple[object, ...]], b: list[tuple[object, ...]]
) -> None:
    ra, da = build(a, pool)
    rb, db = build(b, pool)
    for k in KEYS:  # looked up through the layers (nothing merged yet)
        assert (k in ra) == (k in da)
        assert ra.get(k) == da.get(k)
    assert changed(ra, rb) == {k for k, _ in da.items() - db.items()}
    assert gone(ra, rb) == db.keys() - da.keys()
    assert ra == da and dict(ra) == da and len(ra) == len(da) and sorted(ra) == sorted(da)
    copied = Reasons()
    copied.update(ra)  # shares ra's chunks
    assert copied == da
    assert changed(copied, ra) == set() and gone(copied, ra) == set()


def test_a_shared_chunk_is_not_copied_and_not_compared() -> None:
    big = {f"ns/w{i}": "fits no template" for i in range(1000)}
    old, new = Reasons(), Reasons()
    old.add_chunk(big)
    new.add_chunk(big)
    new["ns/probe"] = "waits for booting node wn-1"
    assert new.layers()[0][0] is big
    assert changed(new, old) == {"ns/probe"}
    assert gone(old, new) == {"ns/probe"}
    new["ns/w3"] = "waits for booting node wn-1"  # an own entry wins over the chunk
    assert new["ns/w3"] == "waits for booting node wn-1" and big["ns/w3"] == "fits no template"
    assert changed(new, old) == {"ns/probe", "ns/w3"}
