"""bench/: every row runs in the tiny mode and is printed; the verdicts follow the targets.
Structure only: no timing or count is ever asserted here."""

from __future__ import annotations

import contextlib
import importlib
import io
import pathlib
import sys
import types

import pytest
from support import ROOT

#: Rows that need only flask_authguard and its test dependencies: they must produce a figure.
CORE_ROWS = [
    "wsgi_bare",
    "with_auth",
    "with_auth_no_cookie",
    "flask_bare",
    "authguard",
    "authguard_no_cookie",
    "auth_required",
    "get_server_session",
    "flask_session",
    "starlette_bare",
    "asgi",
    "users_with_auth",
    "users_with_auth_v5",
    "users_authguard",
    "browsers_gss",
]
#: What a row that cannot run here may say instead of a figure.
MISSING = {
    "flask_login": "not installed: ",
    "jwt_extended": "not installed: ",
    "fastapi_nextauth_jwt": "not installed: ",
    "db_sqlite": "not installed: ",
    "db_postgresql": ("not installed: ", "no database at "),
    "authguard_redis": ("not installed: ", "no Redis at "),
}


@pytest.fixture(scope="module")
def bench() -> types.ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("bench.run")


@pytest.fixture(scope="module")
def tiny(bench: types.ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """``python bench/run.py --tiny``: what it printed and what it wrote."""
    out = tmp_path_factory.mktemp("bench") / "results.md"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert bench.main(["--tiny", "-o", str(out)]) == 0
    return printed.getvalue(), out.read_text(encoding="utf-8")


def _cells(text: str, key: str) -> list[str]:
    line = next((ln for ln in text.splitlines() if ln.startswith(f"| {key} | ")), None)
    assert line is not None, f"no line for {key}"
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_every_row_runs_and_is_printed_once(bench: types.ModuleType, tiny: tuple[str, str]) -> None:
    printed, written = tiny
    assert printed == written + "\n"
    assert written.startswith("# flask_authguard benchmarks\n")
    assert len(set(bench.ROW_KEYS)) == len(bench.ROW_KEYS)
    assert set(CORE_ROWS) | set(MISSING) <= set(bench.ROW_KEYS)
    for key in bench.ROW_KEYS:
        assert sum(ln.startswith(f"| {key} | ") for ln in written.splitlines()) == 1, key
        assert "error:" not in _cells(written, key)[2], _cells(written, key)
    for heading in (r for r in bench.ROWS if isinstance(r, str)):
        assert f"| **{heading}** |" in written


def test_rows_give_a_figure_or_say_why_not(bench: types.ModuleType, tiny: tuple[str, str]) -> None:
    _, text = tiny
    for key in CORE_ROWS:
        assert _cells(text, key)[2].endswith(" µs"), key
    for key, reason in MISSING.items():
        figure = _cells(text, key)[2]
        assert figure.endswith(" µs") or figure.startswith(reason), (key, figure)
    for key in bench.ROW_KEYS:  # counted rows ran their requests natively, counting nothing
        if key.startswith(("count_", "worker_")):  # a peer of the bench extra may be missing
            figure = _cells(text, key)[2]
            assert figure.startswith(("skipped: counted without callgrind", "not installed: ")), key
        if key.startswith("node_"):
            assert _cells(text, key)[2].startswith("skipped: no node run"), key
    assert "Tiny mode: every row ran" in text


def test_every_target_is_on_a_row_with_a_baseline_and_printed(
    bench: types.ModuleType, tiny: tuple[str, str]
) -> None:
    _, text = tiny
    rows = {r[0]: r for r in bench.ROWS if isinstance(r, tuple)}
    for key in bench.TARGETS:
        assert rows[key][2] in rows, key
        assert _cells(text, key)[4].startswith("≤ "), key
    assert _cells(text, "count_with_auth")[4] == "≤ +25,000"
    assert _cells(text, "get_server_session")[4] == "≤ +35.0 µs"
    assert _cells(text, "users_with_auth_v5")[4] == "≤ 1.3× users_with_auth"
    assert f"not measured here (of {len(bench.TARGETS)})." in text


def test_verdicts_on_made_up_figures(bench: types.ModuleType) -> None:
    rows = {k: bench.Row(k, k, base) for k, _, base in (r for r in bench.ROWS if isinstance(r, tuple))}
    figures = {
        "count_wsgi_bare": 5_000,
        "count_with_auth": 30_001,
        "count_flask_bare": 300_000,
        "count_authguard": 346_000,
        "worker_bare_json": 1_000_000,
        "worker_json": 1_064_001,
        "flask_bare": 40.0,
        "get_server_session": 74.0,
        "users_with_auth": 10.0,
        "users_with_auth_v5": 13.5,
        "db_postgresql": 100.0,
    }
    for key, value in figures.items():
        rows[key].value = value
    bench.judge(rows)
    assert rows["count_with_auth"].verdict == "MISSED (+25,001)"
    assert rows["count_authguard"].verdict == "met (+46,000)"
    assert rows["worker_json"].verdict == "MISSED (+64,001)"
    assert rows["get_server_session"].verdict == "met (+34.0)"
    assert rows["users_with_auth_v5"].verdict == "MISSED (1.35×)"
    assert rows["db_postgresql"].verdict == ""  # its baseline (authguard) was not measured
    assert rows["count_asgi"].verdict == ""
    text = bench.render(list(rows.values()), bench.Settings())
    assert "Targets: 2 met, 3 missed, 9 not measured here (of 14)." in text
    assert _cells(text, "count_with_auth")[2:6] == ["30,001", "+25,001", "≤ +25,000", "MISSED (+25,001)"]
    assert _cells(text, "users_with_auth_v5")[3] == "1.35× users_with_auth"


def test_a_count_is_the_difference_of_a_batch_and_one_twice_as_long(tmp_path: pathlib.Path) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    instructions = importlib.import_module("bench.instructions")
    # n=10: what ran before (start-up), the batch, what ran before, the batch of 20; then n=100.
    totals = [9_000_000, 1_500, 300, 2_500, 7_000, 90_000, 300, 170_000]
    for number, total in enumerate(totals, start=1):
        (tmp_path / f"callgrind.42.{number}").write_text(f"events: Ir\nsummary: {total}\n\ntotals: {total}\n")
    (tmp_path / "callgrind.42").write_text("events: Ir\nsummary: 7\n")  # the exit dump: not a batch
    assert instructions.per_request(tmp_path, 42, [10, 100]) == [100, 800]
    with pytest.raises(RuntimeError, match="expected 12 callgrind dumps of 42, found 8"):
        instructions.per_request(tmp_path, 42, [10, 100, 5])


def test_the_worker_app_guards_its_routes_and_nothing_else() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    apps = importlib.import_module("bench.apps")
    guarded, bare = apps.server_app("guarded"), apps.server_app("bare")
    cookie = apps.cookie_header(apps.make_token())
    for route in apps.ROUTES:
        assert apps.answer(guarded, apps.environ_for(None, route))[0] == 307
        status, _, body = apps.answer(guarded, apps.environ_for(cookie, route))
        assert status == 200 and apps.CLAIMS["name"].encode() in body
        assert apps.answer(bare, apps.environ_for(None, route))[0] == 200
    for path in ("/health", "/bench/end"):  # (the markers' routes run outside callgrind too)
        assert apps.answer(guarded, apps.environ_for(None, path))[0] == 200
    with pytest.raises(ValueError):
        apps.server_app("other")
