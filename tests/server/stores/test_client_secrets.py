"""Client secrets: minting over HTTP, what a secret binds, and every way one is refused."""

from __future__ import annotations

import json

import pytest
from openai.types.realtime import ClientSecretCreateResponse
from server_harness import mint, session
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.stores.client_secrets import SecretIssuer, SecretRejected
from rtagents.server.stores.memory_secrets import InMemorySecretStore
from rtagents.testing.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> RunningServer:
    async with running_server(ServerConfig(port=0, clock=clock)) as running:
        yield running


async def _refused(server: RunningServer, secret: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {secret}"}
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers):
            pass
    assert caught.value.response.status_code == 401
    error: dict[str, object] = json.loads(caught.value.response.body)["error"]
    return error


# --- the issuer on its own ---------------------------------------------------


async def test_issuer_tells_every_failure_apart(clock: FakeClock) -> None:
    issuer = SecretIssuer(b"k" * 32, InMemorySecretStore(clock), clock)
    secret = await issuer.mint({"type": "realtime"}, ttl_s=60)
    assert (await issuer.verify(secret.value)).session == {"type": "realtime"}
    assert secret.expires_at == int(clock.now) + 60

    forged = secret.value[:-1] + ("0" if secret.value[-1] != "0" else "1")
    other_server = SecretIssuer(b"x" * 32, InMemorySecretStore(clock), clock)
    unknown = await SecretIssuer(b"k" * 32, InMemorySecretStore(clock), clock).mint({}, 60)
    cases = {
        "malformed": "ek_short",
        "signature": forged,
        "unknown": unknown.value,
    }
    for reason, value in cases.items():
        with pytest.raises(SecretRejected) as caught:
            await issuer.verify(value)
        assert caught.value.reason == reason
    with pytest.raises(SecretRejected) as caught:
        await other_server.verify(secret.value)
    assert caught.value.reason == "signature"

    clock.advance(60)
    with pytest.raises(SecretRejected) as caught:
        await issuer.verify(secret.value)
    assert caught.value.reason == "expired"
    assert "mint a new one" in caught.value.message


async def test_store_forgets_expired_secrets(clock: FakeClock) -> None:
    store = InMemorySecretStore(clock)
    issuer = SecretIssuer(b"k" * 32, store, clock)
    await issuer.mint({}, ttl_s=10)
    clock.advance(11)
    await issuer.mint({}, ttl_s=10)
    assert len(store) == 1


# --- minting over HTTP ---------------------------------------------------------


async def test_mint_returns_the_effective_session(server: RunningServer, clock: FakeClock) -> None:
    body = {
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "session": {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]},
    }
    response = await mint(server, body)
    assert response.status_code == 200
    parsed = ClientSecretCreateResponse.model_validate_json(response.content)
    assert parsed.value.startswith("ek_")
    assert parsed.expires_at == int(clock.now) + 120
    assert parsed.session.type == "realtime"
    assert parsed.session.id.startswith("sess_")
    assert parsed.session.instructions == "Be brief."
    assert parsed.session.audio.output.voice == "alloy"  # defaults filled in


async def test_mint_defaults_to_ten_minutes(server: RunningServer, clock: FakeClock) -> None:
    response = await mint(server)
    assert response.status_code == 200
    assert response.json()["expires_at"] == int(clock.now) + 600


async def test_mint_a_transcription_secret(server: RunningServer) -> None:
    response = await mint(server, {"session": {"type": "transcription"}})
    parsed = ClientSecretCreateResponse.model_validate_json(response.content)
    assert parsed.session.type == "transcription"
    async with session(server, key=parsed.value, greet=False) as client:
        created = await client.recv()
    assert created.session.type == "transcription"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"expires_after": {"seconds": 5}}, "invalid_value", "expires_after.seconds"),
        ({"expires_after": {"seconds": 7201}}, "invalid_value", "expires_after.seconds"),
        ({"expires_after": {"anchor": "now"}}, "invalid_value", "expires_after.anchor"),
        ({"session": {"type": "realtime", "voice": "ash"}}, "unknown_parameter", "session.voice"),
        ({"session": {"instructions": "x"}}, "missing_required_parameter", "session.type"),
        ({"session": {"type": "beta"}}, "invalid_value", "session.type"),
        (
            {"session": {"type": "realtime", "output_modalities": ["speech"]}},
            "invalid_value",
            "session.output_modalities[0]",
        ),
        (
            {
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": -1}}},
                }
            },
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
        ({"surprise": 1}, "unknown_parameter", "surprise"),
    ],
)
async def test_mint_rejects_bad_requests(
    server: RunningServer, body: dict[str, object], code: str, param: str
) -> None:
    response = await mint(server, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["param"]) == (code, param), error


async def test_mint_rejects_invalid_json(server: RunningServer) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.post(
            "/v1/realtime/client_secrets",
            content=b"{nope",
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_beta_field_names_its_ga_replacement(server: RunningServer) -> None:
    response = await mint(server, {"session": {"type": "realtime", "modalities": ["text"]}})
    assert "session.output_modalities" in response.json()["error"]["message"]


async def test_mint_needs_the_api_key(server: RunningServer) -> None:
    assert (await mint(server, key="sk-wrong")).status_code == 401
    secret = (await mint(server)).json()["value"]
    refused = await mint(server, key=secret)
    assert refused.status_code == 403
    assert "cannot mint" in refused.json()["error"]["message"]


# --- opening sessions with a secret ---------------------------------------------


async def test_secret_binds_its_session_config(server: RunningServer) -> None:
    body = {
        "session": {"type": "realtime", "instructions": "Be brief.", "model": "gpt-realtime-mini"}
    }
    secret = (await mint(server, body)).json()["value"]
    async with session(server, key=secret, query="", greet=False) as client:
        created = await client.recv()
    assert created.session.instructions == "Be brief."
    assert created.session.model == "gpt-realtime-mini"


async def test_expiry_stops_new_sessions_not_the_open_ones(
    server: RunningServer, clock: FakeClock
) -> None:
    secret = (await mint(server, {"expires_after": {"seconds": 60}})).json()["value"]
    async with session(server, key=secret) as first:
        clock.advance(61)
        error = await _refused(server, secret)
        assert error["code"] == "invalid_client_secret"
        assert "expired at" in str(error["message"]) and "mint a new one" in str(error["message"])
        # Expiry stops new sessions only: the open one still works.
        item_id = await first.user_text("still here")
        assert item_id.startswith("item_")


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ("ek_" + "a" * 66, "signature invalid"),
        ("ek_garbage", "malformed: expected ek_"),
    ],
)
async def test_forged_and_malformed_secrets_are_refused(
    server: RunningServer, secret: str, words: str
) -> None:
    error = await _refused(server, secret)
    assert error["code"] == "invalid_client_secret"
    assert words in str(error["message"]).lower()


async def test_an_oversized_mint_request_is_refused_without_reading_it_all(
    server: RunningServer,
) -> None:
    import httpx

    from rtagents.server.app import MAX_SECRET_REQUEST_BYTES

    body = b'{"session": {"type": "realtime", "instructions": "' + b"x" * MAX_SECRET_REQUEST_BYTES
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        reply = await http.post(
            "/v1/realtime/client_secrets",
            content=body,
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    assert reply.status_code == 413
    error = reply.json()["error"]
    assert error["code"] == "request_too_large" and "smaller" in error["message"]


# --- the store's bounds, over HTTP (issue 11, hole 3) ---------------------------


async def test_a_full_store_answers_503_until_a_secret_expires(clock: FakeClock) -> None:
    config = ServerConfig(port=0, clock=clock, limits=Limits(stored_secrets=2))
    async with running_server(config) as server:
        for seconds in (60, 120):
            assert (await mint(server, {"expires_after": {"seconds": seconds}})).status_code == 200
        full = await mint(server)
        assert full.status_code == 503
        assert full.headers["Retry-After"] == "60"  # when the first one expires
        error = full.json()["error"]
        assert error["code"] == "secret_store_full"
        assert "limits.stored_secrets" in error["message"]
        clock.advance(60)
        assert (await mint(server)).status_code == 200


async def test_the_store_bounds_the_bytes_of_the_configs_it_keeps(clock: FakeClock) -> None:
    config = ServerConfig(port=0, clock=clock, limits=Limits(stored_secrets_bytes=100_000))
    body = {"session": {"type": "realtime", "instructions": "x" * 40_000}}
    async with running_server(config) as server:
        assert [(await mint(server, body)).status_code for _ in range(3)] == [200, 200, 503]
        error = (await mint(server, body)).json()["error"]
        assert error["code"] == "secret_store_full"
        assert "limits.stored_secrets_bytes" in error["message"]
        assert (await mint(server)).status_code == 200  # a small config still fits


async def test_a_mint_checks_the_servers_own_instructions_limit(clock: FakeClock) -> None:
    big = {"session": {"type": "realtime", "instructions": "x" * 300_000}}
    small_limit = ServerConfig(port=0, clock=clock, limits=Limits(instructions_bytes=1000))
    async with running_server(small_limit) as server:
        refused = await mint(server, {"session": {"type": "realtime", "instructions": "x" * 1001}})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "instructions_too_large"
    raised = ServerConfig(port=0, clock=clock, limits=Limits(instructions_bytes=2**20))
    async with running_server(raised) as server:
        assert (await mint(server, big)).status_code == 200  # over the 256 KiB default
