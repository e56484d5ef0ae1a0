"""``rtagents doctor scan``: every beta usage of a beta-era app found, nothing on GA code.

The beta fixture (tests/cli/fixtures/beta_app: a Python app, a browser client,
TOML, YAML, JSON and .env config, a log excerpt and a recording) is written
with the beta shapes; EXPECTED lists each of its usages by hand. Its GA twin
(fixtures/ga_app) says voice, turn_detection, pcm16 and transcription in
their GA places, and the project's own src/ recognises beta shapes on purpose
(allowed by markers): both must scan clean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import websockets

from rtagents.cli.doctor_scan import SHOWN_PER_USAGE, scan_lines
from rtagents.cli.doctor_scan_files import scan_paths
from rtagents.cli.main import main
from rtagents.observability.recording import RecordingWriter
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
BETA_APP = FIXTURES / "beta_app"

# (file, line, column, rule, text found): every beta usage in the fixture app.
EXPECTED = {
    # .env
    (".env", 1, 1, "beta-header", "OpenAI-Beta: realtime=v1"),
    (".env", 2, 16, "beta-model", "gpt-4o-realtime-preview"),
    (".env", 3, 20, "beta-audio-format", "pcm16"),
    # app.py
    ("app.py", 15, 10, "beta-model", "gpt-4o-realtime-preview-2024-12-17"),
    ("app.py", 19, 6, "beta-header", "OpenAI-Beta: realtime=v1"),
    ("app.py", 23, 6, "beta-session-field", "modalities"),
    ("app.py", 24, 6, "beta-session-field", "voice"),
    ("app.py", 26, 6, "beta-session-field", "input_audio_format"),
    ("app.py", 26, 28, "beta-audio-format", "pcm16"),
    ("app.py", 27, 6, "beta-session-field", "output_audio_format"),
    ("app.py", 27, 29, "beta-audio-format", "pcm16"),
    ("app.py", 28, 6, "beta-session-field", "input_audio_transcription"),
    ("app.py", 29, 6, "beta-session-field", "turn_detection"),
    ("app.py", 30, 6, "beta-session-field", "temperature"),
    ("app.py", 31, 6, "beta-session-field", "max_response_output_tokens"),
    ("app.py", 37, 32, "beta-endpoint", "/v1/realtime/sessions"),
    ("app.py", 46, 18, "beta-sdk", ".beta.realtime"),
    ("app.py", 46, 62, "beta-session-field", "modalities"),
    ("app.py", 56, 35, "beta-session-field", "modalities"),
    ("app.py", 56, 59, "beta-session-field", "voice"),
    ("app.py", 63, 34, "beta-event", "response.audio.delta"),
    ("app.py", 65, 36, "beta-event", "response.text.delta"),
    ("app.py", 67, 36, "beta-event", "response.audio_transcript.done"),
    ("app.py", 69, 36, "beta-event", "conversation.item.created"),
    # config.toml
    ("config.toml", 3, 10, "beta-model", "gpt-4o-realtime-preview"),
    ("config.toml", 7, 1, "beta-session-field", "voice"),
    ("config.toml", 8, 1, "beta-session-field", "modalities"),
    ("config.toml", 9, 1, "beta-session-field", "input_audio_format"),
    ("config.toml", 9, 23, "beta-audio-format", "pcm16"),
    ("config.toml", 12, 19, "beta-session-field", "turn_detection"),
    # config.yaml
    ("config.yaml", 3, 10, "beta-model", "gpt-4o-realtime-preview-2025-06-03"),
    ("config.yaml", 5, 5, "beta-header", "OpenAI-Beta: realtime=v1"),
    ("config.yaml", 7, 5, "beta-session-field", "voice"),
    ("config.yaml", 8, 5, "beta-session-field", "output_audio_format"),
    ("config.yaml", 8, 26, "beta-audio-format", "g711_alaw"),
    ("config.yaml", 9, 5, "beta-session-field", "input_audio_noise_reduction"),
    # server.log
    ("server.log", 1, 83, "beta-model", "gpt-4o-realtime-preview-2024-12-17"),
    ("server.log", 2, 40, "beta-event", "response.audio.delta"),
    ("server.log", 3, 50, "beta-event", "response.audio_transcript.delta"),
    ("server.log", 4, 69, "beta-close", "beta_api_shape_disabled"),
    ("server.log", 5, 49, "beta-close", "4000"),
    # session.jsonl
    ("session.jsonl", 1, 159, "beta-model", "gpt-4o-realtime-preview"),
    ("session.jsonl", 1, 195, "beta-model", "gpt-4o-realtime-preview"),
    ("session.jsonl", 2, 173, "beta-session-field", "modalities"),
    ("session.jsonl", 2, 197, "beta-session-field", "voice"),
    ("session.jsonl", 2, 215, "beta-session-field", "turn_detection"),
    ("session.jsonl", 3, 147, "beta-event", "conversation.item.created"),
    ("session.jsonl", 4, 147, "beta-event", "response.text.delta"),
    ("session.jsonl", 5, 143, "beta-event", "transcription_session.update"),
    ("session.jsonl", 5, 187, "beta-session-field", "input_audio_transcription"),
    ("session.jsonl", 6, 98, "beta-close", "beta_api_shape_disabled"),
    ("session.jsonl", 7, 81, "beta-close", "4000"),
    # settings.json
    ("settings.json", 2, 13, "beta-model", "gpt-4o-mini-realtime-preview-2024-12-17"),
    ("settings.json", 3, 44, "beta-endpoint", "/v1/realtime/transcription_sessions"),
    ("settings.json", 5, 6, "beta-session-field", "input_audio_transcription"),
    ("settings.json", 6, 6, "beta-session-field", "turn_detection"),
    ("settings.json", 7, 6, "beta-session-field", "speed"),
    # web/client.js
    ("web/client.js", 4, 40, "beta-endpoint", "/v1/realtime/sessions"),
    ("web/client.js", 10, 68, "beta-model", "gpt-4o-mini-realtime-preview"),
    ("web/client.js", 13, 6, "beta-header", "openai-beta.realtime-v1"),
    ("web/client.js", 20, 11, "beta-session-field", "modalities"),
    ("web/client.js", 21, 11, "beta-session-field", "voice"),
    ("web/client.js", 22, 11, "beta-session-field", "input_audio_format"),
    ("web/client.js", 22, 32, "beta-audio-format", "pcm16"),
    ("web/client.js", 23, 11, "beta-session-field", "output_audio_format"),
    ("web/client.js", 23, 33, "beta-audio-format", "g711_ulaw"),
    ("web/client.js", 24, 11, "beta-session-field", "turn_detection"),
    ("web/client.js", 32, 13, "beta-event", "response.audio.delta"),
    ("web/client.js", 35, 13, "beta-event", "response.audio_transcript.delta"),
    ("web/client.js", 39, 36, "beta-event", "response.text."),
}


def _found(paths: list[Path], root: Path) -> set[tuple[str, int, int, str, str]]:
    findings, _ = scan_paths(paths)
    return {
        (str(Path(f.path).relative_to(root)), f.line, f.column, f.rule, f.found) for f in findings
    }


def test_finds_every_beta_usage_in_the_beta_app_and_nothing_else() -> None:
    assert _found([BETA_APP], BETA_APP) == EXPECTED


def test_every_kind_of_beta_usage_is_in_the_fixture() -> None:
    rules = {rule for *_, rule, _ in EXPECTED}
    assert rules == {
        "beta-header",
        "beta-endpoint",
        "beta-sdk",
        "beta-event",
        "beta-session-field",
        "beta-audio-format",
        "beta-model",
        "beta-close",
    }


def test_the_projects_own_src_scans_clean() -> None:
    findings, scanned = scan_paths([ROOT / "src"])
    assert scanned > 100
    assert [f"{f.path}:{f.line}: {f.found}" for f in findings] == []


def test_the_ga_twin_of_the_app_scans_clean() -> None:
    findings, scanned = scan_paths([FIXTURES / "ga_app"])
    assert scanned == 7
    assert findings == []


async def test_a_real_ga_session_recording_scans_clean(tmp_path: Path) -> None:
    """A session the GA server really ran (nested voice, turn detection, formats) is not beta."""
    path = tmp_path / "ga.jsonl"
    writer = RecordingWriter(path, side="client", model="gpt-realtime")
    session = {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000}, "turn_detection": None},
            "output": {"voice": "marin"},
        },
    }
    turn = {
        "output_modalities": ["text"],
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ],
    }
    async with running_server(ServerConfig(port=0)) as server:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        async with websockets.connect(server.ws_url, additional_headers=headers) as ws:
            for event in (
                {"type": "session.update", "session": session},
                {"type": "response.create", "response": turn},
            ):
                await ws.send(json.dumps(event))
                writer.event("sent", json.dumps(event))
            seen: list[str] = []
            while "response.done" not in seen:
                message = await ws.recv()
                writer.event("received", message)
                seen.append(json.loads(message)["type"])
    writer.close()
    assert "session.updated" in seen and "response.output_text.delta" in seen
    assert scan_paths([path]) == ([], 1)


def _scan(text: str, kind: Any = "python") -> list[tuple[int, int, str, str]]:
    return [(f.line, f.column, f.rule, f.found) for f in scan_lines("x", text.splitlines(), kind)]


def test_an_allow_marker_skips_its_line_only() -> None:
    text = (
        'HANDLERS = {"response.audio.delta": on_audio}  # doctor: allow-beta\n'
        'OTHER = {"response.audio.delta": on_audio}\n'
    )
    assert _scan(text) == [(2, 11, "beta-event", "response.audio.delta")]


def test_an_allow_block_skips_its_lines_and_an_unclosed_one_is_reported() -> None:
    block = "# doctor: allow-beta-begin\nA = 'response.text.delta'\n# doctor: allow-beta-end\n"
    assert _scan(block + "B = 'response.text.done'\n") == [
        (4, 6, "beta-event", "response.text.done")
    ]
    both = "# doctor: allow-beta-begin ... doctor: allow-beta-end\nB = 'response.text.done'\n"
    assert _scan(both) == [(2, 6, "beta-event", "response.text.done")]
    unclosed = "x = 1\n# doctor: allow-beta-begin\nA = 'response.text.delta'\n"
    assert _scan(unclosed) == [(2, 1, "allow-unclosed", "doctor: allow-beta-begin")]


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("python", 'session = {"audio": {"output": {"voice": "alloy"}}}'),
        ("python", "def speak(voice: str, turn_detection: bool = False) -> None: ..."),
        (
            "python",
            'session = {\n    "audio": {\n        "input": {"turn_detection": None},\n    },\n}',
        ),
        ("python", 's = """\nsession = {\n"""\nvoice = 1\nx = {"voice": 2}'),
        ("python", 'session = dict(audio={"output": {"voice": "x"}})  # session = {"voice": 1}'),
        ("python", 'modalities = overrides.get("output_modalities")'),
        ("python", 'encoding = "pcm16"'),
        ("js", "const session = { audio: { output: { voice: 'alloy' } } }; /* voice: { */"),
        ("js", "if (event.type === 'conversation.item.input_audio_transcription.completed') {}"),
        ("yaml", "session:\n  audio:\n    output:\n      voice: alloy\n  type: realtime"),
        ("toml", '[session.audio.output]\nvoice = "ash"\n[session]\ntype = "realtime"'),
        ("text", "sent 4000 bytes, then the socket was closed"),
        ("markup", "| close, code N | connection (4000, the beta refusal, is protocol) |"),
    ],
)
def test_ga_shapes_that_share_a_beta_word_are_not_reported(kind: str, text: str) -> None:
    assert _scan(text, kind) == []


def test_beta_fields_are_found_in_a_session_held_under_any_session_name() -> None:
    text = 'DEFAULT_SESSION = {\n    "voice": "alloy",  # comment with { brace\n}\n'
    assert _scan(text) == [(2, 6, "beta-session-field", "voice")]
    assert _scan("sessionConfig = { speed: 1.2 }", "js") == [(1, 19, "beta-session-field", "speed")]


def test_a_usage_repeated_past_the_cap_is_counted_not_listed() -> None:
    lines = ['{"type": "response.audio.delta", "delta": "AAAA"}'] * (SHOWN_PER_USAGE + 7)
    findings = scan_lines("r.jsonl", lines, "json")
    assert len(findings) == SHOWN_PER_USAGE
    assert [f.more for f in findings] == [0] * (SHOWN_PER_USAGE - 1) + [7]


def test_cli_prints_file_line_column_and_the_ga_replacement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor", "scan", str(BETA_APP / "web" / "client.js")]) == 1
    out = capsys.readouterr().out
    assert f"{BETA_APP / 'web' / 'client.js'}:32:13: [beta-event] 'response.audio.delta'" in out
    assert "    GA: response.output_audio.delta" in out
    assert out.rstrip().endswith("in 1 of 1 file(s) scanned.")


def test_cli_json_output_and_exit_statuses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["doctor", "scan", "--json", str(BETA_APP)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["files_scanned"] == 8
    assert len(report["findings"]) == len(EXPECTED)
    first = report["findings"][0]
    assert set(first) == {"path", "line", "column", "rule", "found", "what", "replacement", "more"}
    assert main(["doctor", "scan", str(FIXTURES / "ga_app")]) == 0
    assert "No beta usage found in 7 file(s) scanned." in capsys.readouterr().out
    assert main(["doctor", "scan", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_binary_files_are_skipped_and_a_named_file_of_any_suffix_is_read(tmp_path: Path) -> None:
    (tmp_path / "audio.json").write_bytes(b"\0\1response.audio.delta")
    named = tmp_path / "capture.out"
    named.write_text("GET /v1/realtime/sessions HTTP/1.1\n")
    assert scan_paths([tmp_path]) == ([], 0)
    findings, scanned = scan_paths([named])
    assert scanned == 1 and [f.rule for f in findings] == ["beta-endpoint"]
