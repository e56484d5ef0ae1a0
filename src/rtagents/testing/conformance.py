"""The transport conformance suite: the rules every :class:`Transport` keeps, as runnable checks.

The client session and the server host run unchanged on any transport only if
each one closes, fails and pushes back the same way. Each check takes a *pair
factory* (an async context manager yielding a :class:`TransportPair`: ``near``,
the transport under test, connected to a ``far`` peer, with the
:class:`Guarantees` near makes) and raises :class:`ConformanceError` saying
which rule broke, or :class:`NotApplicable` when the pair lacks what the check
needs (no ``abort``, no binary frames, no size limit). No test framework is
needed; with pytest::

    @pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
    async def test_my_transport_conforms(check: Check) -> None:
        try:
            await check(my_pair)
        except NotApplicable as why:
            pytest.skip(str(why))

The rules: text crosses in order both ways; after a local close ``closed`` is
True and ``send``/``recv`` raise the one :class:`TransportClosed` naming our
code and reason; after a peer close ``recv`` first returns what was already in
flight, then raises every time; closing twice, or from both ends at once, is
harmless; a close wakes every pending ``recv``; an abort reads as 1006 on the
other end; a message over a size limit ends the connection with 1009; a
sender facing a peer that never reads is stopped (``send`` waits, or the
receiver closes), never left to queue without bound.
"""

from __future__ import annotations

from .conformance_checks import (
    check_abort,
    check_binary_frames,
    check_both_ends_closing_at_once,
    check_close_wakes_waiters,
    check_closed_errors_stay_small,
    check_is_a_transport,
    check_local_close,
    check_messages_cross_in_order,
    check_oversized_incoming,
    check_oversized_outgoing,
    check_peer_close,
)
from .conformance_flood import check_backpressure
from .transport_pair import (
    Backpressure,
    Check,
    ConformanceError,
    Guarantees,
    NotApplicable,
    PairFactory,
    TransportPair,
)

CHECKS: tuple[Check, ...] = (
    check_is_a_transport,
    check_messages_cross_in_order,
    check_local_close,
    check_peer_close,
    check_close_wakes_waiters,
    check_both_ends_closing_at_once,
    check_abort,
    check_binary_frames,
    check_oversized_incoming,
    check_oversized_outgoing,
    check_backpressure,
    check_closed_errors_stay_small,
)


async def run_conformance(make_pair: PairFactory) -> dict[str, str]:
    """Run every check; ``{check name: "passed" | "not applicable: why"}``.

    Raises the first :class:`ConformanceError`; for per-check reports in a test
    runner, parametrize over :data:`CHECKS` instead.
    """
    results: dict[str, str] = {}
    for check in CHECKS:
        try:
            await check(make_pair)
        except NotApplicable as why:
            results[check.__name__] = f"not applicable: {why}"
        else:
            results[check.__name__] = "passed"
    return results


__all__ = [
    "CHECKS",
    "Backpressure",
    "Check",
    "ConformanceError",
    "Guarantees",
    "NotApplicable",
    "PairFactory",
    "TransportPair",
    "run_conformance",
]
