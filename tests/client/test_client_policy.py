"""The reconnect policy: the close-code table, failure verdicts and full-jitter backoff."""

from __future__ import annotations

import pytest

from rtagents.client import CLOSE_CODE_POLICY, Decision, ReconnectPolicy
from rtagents.client.policy import decide_close, decide_failure
from rtagents.protocol.errors import ConnectionFailure, LocalProtocolError, Origin
from rtagents.transports.base import TransportClosed
from rtagents.transports.websocket import HandshakeRejected


@pytest.mark.parametrize("code", [1005, 1006, 1011, 1012, 1013, 1014])
def test_drops_and_server_trouble_resume(code: int) -> None:
    assert decide_close(code)[0] is Decision.RESUME


def test_going_away_rebuilds_because_that_session_is_over() -> None:
    decision, why = decide_close(1001)
    assert decision is Decision.REBUILD and "session cap" in why


@pytest.mark.parametrize("code", [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4000, 4999])
def test_deliberate_closes_and_our_own_mistakes_never_retry(code: int) -> None:
    assert decide_close(code)[0] is Decision.NEVER


def test_an_unlisted_code_counts_as_a_drop_and_says_so() -> None:
    decision, why = decide_close(1015)
    assert decision is Decision.RESUME and "1015" in why


def test_every_row_has_a_reason() -> None:
    assert all(why for _, why in CLOSE_CODE_POLICY.values())


def _rejected(status: int) -> HandshakeRejected:
    return HandshakeRejected("no", status=status, code=f"http_{status}", origin=Origin.REMOTE)


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        (404, Decision.REBUILD),  # resume_unknown
        (409, Decision.REBUILD),  # resume_gap
        (429, Decision.RESUME),
        (500, Decision.RESUME),
        (503, Decision.RESUME),
        (400, Decision.NEVER),
        (401, Decision.NEVER),
        (403, Decision.NEVER),
    ],
)
def test_handshake_statuses(status: int, decision: Decision) -> None:
    verdict, why = decide_failure(_rejected(status))
    assert verdict is decision and str(status) in why


def test_network_failures_retry_and_local_bugs_do_not() -> None:
    refused = ConnectionFailure("refused", origin=Origin.REMOTE, code="connection_refused")
    assert decide_failure(refused)[0] is Decision.RESUME
    assert decide_failure(TimeoutError())[0] is Decision.RESUME
    assert decide_failure(OSError("reset"))[0] is Decision.RESUME
    assert decide_failure(TransportClosed(1006))[0] is Decision.RESUME
    assert decide_failure(TransportClosed(1008))[0] is Decision.NEVER
    bad_key = ConnectionFailure("bad", origin=Origin.LOCAL, code="invalid_credentials")
    assert decide_failure(bad_key)[0] is Decision.NEVER
    assert decide_failure(LocalProtocolError("bug"))[0] is Decision.NEVER


def test_full_jitter_stays_under_the_capped_exponential() -> None:
    top = ReconnectPolicy(base_delay=0.5, max_delay=8.0, random=lambda: 1.0)
    assert [top.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    bottom = ReconnectPolicy(random=lambda: 0.0)
    assert all(bottom.delay(n) == 0.0 for n in range(1, 8))
    half = ReconnectPolicy(base_delay=1.0, max_delay=3.0, random=lambda: 0.5)
    assert [half.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]


def test_the_default_jitter_is_random_within_bounds() -> None:
    policy = ReconnectPolicy(base_delay=0.2, max_delay=1.0)
    delays = [policy.delay(3) for _ in range(200)]
    assert all(0.0 <= d <= 0.8 for d in delays)
    assert len(set(delays)) > 100  # not one fixed value: clients spread out


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -1.0}, {"send_queue_bytes": -1}],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


def test_the_reliability_doc_shows_the_table_the_code_uses() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    for code, (decision, why) in CLOSE_CODE_POLICY.items():
        assert f"| {code} | {decision} | {why} |" in doc
