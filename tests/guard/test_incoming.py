"""guard/incoming.py: the normalised path the guard (and its matcher) sees."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from support.properties import BOUNDED

from flask_authguard.core.matcher import compile_matcher
from flask_authguard.guard.incoming import normalize_path

# -- properties: path normalisation ---------------------------------------------------------------

SEGMENTS = st.lists(st.sampled_from(["", ".", "..", "a", "admin", "b.c", "%2e", "x y"]), max_size=8)


@BOUNDED
@given(SEGMENTS, st.booleans())
@example(["."], False)  # found by this property: PATH_INFO "." was left as "/."
@example([".."], False)
def test_normalised_paths_are_canonical(segments: list[str], leading: bool) -> None:
    path = ("/" if leading else "") + "/".join(segments)
    out = normalize_path(path)
    assert out.startswith("/")
    assert "//" not in out
    assert ".." not in out.split("/") and "." not in out.split("/")
    assert normalize_path(out) == out  # idempotent


@BOUNDED
@given(SEGMENTS)
def test_dot_segments_never_escape_a_protected_prefix(segments: list[str]) -> None:
    """Whatever ``..`` tricks a path holds, what the matcher sees is what the app serves."""
    matcher = compile_matcher(["/admin/:path*"])
    path = normalize_path("/public/" + "/".join(segments))
    served = [s for s in path.split("/") if s]
    assert matcher.matches(path) == (served[:1] == ["admin"])
