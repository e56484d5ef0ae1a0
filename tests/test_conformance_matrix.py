"""docs/conformance.md matches what tools/conformance_matrix.py makes of the markers.

CI fails here when a marker or the ``openai`` package changed and nobody
regenerated the matrix; the reader's own rules (literal arguments, known
statuses, clients and keys) are checked on small test files written here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import conformance_matrix  # noqa: E402
from conformance_sources import MarkerError, Proof, Row, ga_rows, read_proofs  # noqa: E402


def test_the_published_matrix_is_up_to_date() -> None:
    expected = conformance_matrix.build()  # a bad marker raises here, saying where
    if conformance_matrix.DOC.read_text(encoding="utf-8") != expected:
        pytest.fail(
            "docs/conformance.md is stale: run .venv/bin/python tools/conformance_matrix.py"
        )


def test_check_mode_says_stale_without_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "conformance.md"
    stale.write_text("old\n")
    monkeypatch.setattr(conformance_matrix, "DOC", stale)
    assert conformance_matrix.main(["--check"]) == 1
    assert stale.read_text() == "old\n"


def test_rows_come_from_the_ga_types() -> None:
    rows = ga_rows()
    keys = {(r.category, r.key) for r in rows}
    assert len([r for r in rows if r.category == "client event"]) == 11
    assert ("server event", "response.mcp_call.completed") in keys
    assert ("session field", "audio.input.noise_reduction.type=near_field") in keys
    assert ("session field", "truncation[retention_ratio].retention_ratio") in keys
    assert ("session field", "tools[mcp].server_url") in keys
    events = {r.key for r in rows if r.category != "session field"}
    fields = {r.key for r in rows if r.category == "session field"}
    assert not events & fields  # a marker key names one row only


def _write(tmp_path: Path, body: str) -> list[Proof]:
    tests = tmp_path / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "test_sample.py").write_text("import pytest\n" + body)
    return read_proofs(tests, tmp_path)


def test_markers_on_functions_classes_and_pytestmark_are_read(tmp_path: Path) -> None:
    proofs = _write(
        tmp_path,
        "pytestmark = [pytest.mark.conformance('session.update', status='supported',"
        " client='raw', transport='websocket')]\n"
        "class TestThing:\n"
        "    @pytest.mark.conformance('response.cancel', 'response.done', status='supported',"
        " client='openai', transport='webrtc', note='cancelled')\n"
        "    async def test_one(self): ...\n",
    )
    assert [(p.test, p.keys) for p in proofs] == [
        ("tests/test_sample.py::TestThing::test_one", ("session.update",)),
        ("tests/test_sample.py::TestThing::test_one", ("response.cancel", "response.done")),
    ]
    assert proofs[1].client == "openai" and proofs[1].note == "cancelled"


def test_a_marker_may_spread_a_module_level_tuple(tmp_path: Path) -> None:
    proofs = _write(
        tmp_path,
        "EVENTS = ('response.done', 'error')\n"
        "@pytest.mark.conformance('response.create', *EVENTS, status='supported',"
        " client='raw', transport='websocket')\n"
        "def test_x(): ...\n",
    )
    assert proofs[0].keys == ("response.create", "response.done", "error")


@pytest.mark.parametrize(
    ("marker", "words"),
    [
        ("'x', status=STATUS, client='raw', transport='websocket'", "literals"),
        ("*MISSING, status='supported', client='raw', transport='websocket'", "literals"),
        ("'x', status='works', client='raw', transport='websocket'", "status="),
        ("'x', status='supported', client='curl', transport='websocket'", "client="),
        ("'x', status='supported', client='raw', transport='sip'", "transport="),
        ("status='supported', client='raw', transport='websocket'", "at least one"),
        ("'x', status='supported', client='raw', transport='websocket', why=1", "unknown"),
    ],
)
def test_bad_markers_fail_with_their_place(tmp_path: Path, marker: str, words: str) -> None:
    with pytest.raises(MarkerError, match=words) as caught:
        _write(tmp_path, f"@pytest.mark.conformance({marker})\ndef test_x(): ...\n")
    assert "tests/test_sample.py:2" in str(caught.value)


def test_an_unknown_key_is_refused_and_unproven_rows_are_listed_as_gaps() -> None:
    rows = [Row("client event", "response.create"), Row("client event", "response.cancel")]
    typo = Proof("t.py::test", ("response.creat",), "supported", "raw", "websocket", "")
    with pytest.raises(MarkerError, match="response.creat"):
        conformance_matrix.check_keys(rows, [typo])
    proof = Proof("t.py::test", ("response.create",), "supported", "openai", "webrtc", "")
    text = conformance_matrix.render(rows, [proof])
    assert "| `response.create` | supported | openai (WebRTC) | `t.py::test` |" in text
    assert "| `response.cancel` | unproven | — | — |" in text
    assert text.rstrip().endswith("- client event: `response.cancel`")


def test_disagreeing_markers_make_a_mixed_row_that_says_where() -> None:
    rows = [Row("client event", "output_audio_buffer.clear")]
    proofs = [
        Proof("a.py::t", ("output_audio_buffer.clear",), "supported", "raw", "webrtc", ""),
        Proof("b.py::t", ("output_audio_buffer.clear",), "refused", "raw", "websocket", "n"),
    ]
    text = conformance_matrix.render(rows, proofs)
    assert "| mixed |" in text
    assert "`a.py::t` [supported, WebRTC]<br>`b.py::t` [refused, WS] — n" in text
