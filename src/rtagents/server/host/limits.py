"""The server's limits table: every resource a client can grow, bounded in one place.

Each limit has a safe default (the hosted API's figure where one is
published), is configurable from ``rtagents serve`` (flag, ``RTAGENTS_LIMIT_*``
variable, config file), and each breach is a specific error naming the limit;
``docs/server.md`` lists them with the error code and ``param`` a breach gets.
A limit of 0 means "no bound" only where its comment says so.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 2**10
MIB = 2**20


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Per-process bounds on what clients can make the server hold or do."""

    # --- one session -------------------------------------------------------
    # Uncommitted input audio (decoded bytes); the hosted API caps it at 15 MiB.
    input_buffer_bytes: int = 15 * MIB
    # One input_audio_buffer.append (decoded bytes), hosted parity.
    append_bytes: int = 15 * MIB
    # Seconds of audio one input transcription takes in (a turn or an audio
    # item); a longer one fails (…input_audio_transcription.failed) unheard.
    transcription_seconds: int = 180
    # session.instructions (and a response's instructions), UTF-8 bytes.
    instructions_bytes: int = 256 * KIB
    # The JSON of every tool definition of a session or response, together.
    tools_bytes: int = 256 * KIB
    # Tools per session or response.
    tools_count: int = 128
    # Items one conversation holds.
    conversation_items: int = 4096
    # What one session may hold in memory in all (input audio, items, queued
    # frames); past it the breaching request is refused.
    session_memory_bytes: int = 64 * MIB
    # The largest WebSocket message read at all; past it the connection closes
    # with 1009 before the frame is read into memory.
    frame_bytes: int = 32 * MIB
    # The largest WebRTC data channel message (advertised in the SDP answer).
    datachannel_message_bytes: int = 256 * KIB
    # JSON nesting depth a client event may have.
    json_depth: int = 64
    # Frames queued for a client that does not read; past it the connection
    # closes (1008) with a reason that says so.
    outbox_backlog_bytes: int = 16 * MIB

    # --- the process -------------------------------------------------------
    # Open WebSocket sessions and WebRTC calls together.
    concurrent_connections: int = 1000
    # Seconds a client may take to send a complete HTTP request head
    # (slowloris sockets are closed after it).
    header_read_timeout_s: float = 10.0

    # --- client secrets ----------------------------------------------------
    # Secrets stored at once, and the bytes of their session configs.
    stored_secrets: int = 10_000
    stored_secrets_bytes: int = 64 * MIB
    # Secrets one API key (or one console client address) may mint per minute;
    # more get 429 with Retry-After.
    mints_per_minute: int = 120
    # Sessions one ek_ secret may open (1: a one-time ticket).
    sessions_per_secret: int = 1

    # --- what errors and logs quote of client input ------------------------
    # Characters of a client string quoted in an error message or log record.
    quoted_chars: int = 200
    # Failure records one session may write (the first of each kind, and the
    # reports of its repeats); past it new kinds are only counted and the
    # session's end says how many. DEBUG traces of accepted events are not
    # counted.
    session_log_records: int = 1000
