"""Reading the rtagents resume headers: a ticket only when the server really offers one."""

from __future__ import annotations

from rtagents.client.resume_ticket import (
    ResumeTicket,
    opt_in_headers,
    read_received,
    read_ticket,
    response_headers,
    resume_headers,
)

OFFER = {
    "x-rtagents-session-id": "sess_1",
    "x-rtagents-resume-token": "tok",
    "x-rtagents-resume-grace": "30",
}


def test_an_offer_becomes_a_ticket_and_the_resume_request_carries_it() -> None:
    ticket = read_ticket(OFFER)
    assert ticket == ResumeTicket(session_id="sess_1", token="tok", grace_s=30.0)
    assert resume_headers(ticket, 17) == {
        "X-Rtagents-Resume-Token": "tok",
        "X-Rtagents-Last-Seq": "17",
    }
    assert opt_in_headers() == {"X-Rtagents-Resume": "1"}


def test_no_offer_a_partial_one_or_a_zero_grace_means_no_resume() -> None:
    assert read_ticket({}) is None
    assert read_ticket({"x-rtagents-resume-token": "tok"}) is None
    assert read_ticket({**OFFER, "x-rtagents-resume-grace": "0"}) is None
    assert read_ticket({**OFFER, "x-rtagents-resume-grace": "soon"}) is None
    assert read_ticket({**OFFER, "x-rtagents-resume-grace": "nan"}) is None


def test_the_received_count_must_be_a_whole_number() -> None:
    assert read_received({"x-rtagents-received": "12"}) == 12
    assert read_received({}) is None
    assert read_received({"x-rtagents-received": "-1"}) is None
    assert read_received({"x-rtagents-received": "many"}) is None


def test_transports_without_handshake_headers_offer_nothing() -> None:
    assert response_headers(object()) == {}
