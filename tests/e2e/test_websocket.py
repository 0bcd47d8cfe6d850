"""WebSocket mode on /v1/responses against a real server (the scripted model only)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import SCRIPT, Server

TERMINAL = ("response.completed", "response.failed", "response.incomplete", "error")
TOOLS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ws")
    server = Server(tmp, f"sqlite:///{tmp / 'db.sqlite'}", 'default = "scripted"\n' + SCRIPT).start()
    yield server
    server.stop()


def ws_url(server: Server) -> str:
    return f"ws://127.0.0.1:{server.port}/v1/responses"


def send(ws, body) -> None:
    ws.send(body if isinstance(body, str) else json.dumps(body))


def receive_turn(ws) -> list[dict]:
    """Every frame of one turn, up to and including its terminal event or error."""
    events = []
    while True:
        event = json.loads(ws.recv(timeout=30))
        events.append(event)
        if event["type"] in TERMINAL:
            return events


def turn(ws, **body) -> list[dict]:
    send(ws, {"type": "response.create", "model": "scripted", **body})
    return receive_turn(ws)


def final(events: list[dict]) -> dict:
    assert events[-1]["type"] == "response.completed", events[-1]
    return events[-1]["response"]


def text_of(response: dict) -> str:
    return "".join(p["text"] for item in response["output"] if item["type"] == "message" for p in item["content"])


def assert_ws_error(event: dict, code: str, status: int = 400, param: str | None = None) -> None:
    assert event["type"] == "error"
    assert event["status"] == status
    assert event["error"]["code"] == code
    assert event["error"]["type"] == "invalid_request_error"
    assert isinstance(event["error"]["message"], str) and event["error"]["message"]
    assert "param" in event["error"]
    if param is not None:
        assert event["error"]["param"] == param


def still_open(ws) -> None:
    """The socket still serves turns after an error."""
    assert text_of(final(turn(ws, input="hi", store=False))) == "Hello from the script."


def test_text_turn_event_order(srv):
    with connect(ws_url(srv)) as ws:
        events = turn(ws, input="hi")
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert all("stream_id" not in e for e in events)
    response = final(events)
    assert text_of(response) == "Hello from the script."
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "Hello from the script."
    # store defaults to true: persisted exactly like the HTTP path
    stored = srv.client().responses.retrieve(response["id"])
    assert stored.status == "completed" and stored.output_text == "Hello from the script."


def test_store_false_continuation_on_one_socket(srv):
    with connect(ws_url(srv)) as ws:
        first = final(turn(ws, input="Remember the code word cobalt", store=False))
        alone = final(turn(ws, input="What is the code word?", store=False))
        second = final(turn(ws, input="What is the code word?", store=False, previous_response_id=first["id"]))
        third = final(turn(ws, input="And again?", store=False, previous_response_id=second["id"]))
    assert second["previous_response_id"] == first["id"] and third["previous_response_id"] == second["id"]
    # the scripted model counts every input word: the continuation saw the first turn too
    assert second["usage"]["input_tokens"] > alone["usage"]["input_tokens"]
    assert third["usage"]["input_tokens"] > second["usage"]["input_tokens"]
    # nothing was written to storage
    for response in (first, second, third):
        assert httpx.get(f"{srv.url}/responses/{response['id']}").status_code == 404


def test_stream_id_is_echoed(srv):
    with connect(ws_url(srv)) as ws:
        events = turn(ws, input="hi", store=False, stream_id="agent_1")
        assert events[-1]["type"] == "response.completed"
        assert all(e["stream_id"] == "agent_1" for e in events)
        error = turn(ws, input="hi", stream_id="agent_2", previous_response_id="resp_missing", store=False)[-1]
        assert_ws_error(error, "previous_response_not_found")
        assert error["stream_id"] == "agent_2"
        assert_ws_error(turn(ws, input="hi", stream_id="bad lane!")[-1], "invalid_value", param="stream_id")
        assert all("stream_id" not in e for e in turn(ws, input="hi", store=False))


@pytest.mark.parametrize("store", [False, True])
def test_function_call_then_output(srv, store):
    with connect(ws_url(srv)) as ws:
        events = turn(ws, input="weather in Paris?", tools=TOOLS, store=store)
        kinds = [e["type"] for e in events]
        assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
        call = final(events)["output"][0]
        assert call["type"] == "function_call" and call["name"] == "get_weather"
        assert json.loads(call["arguments"]) == {"city": "Paris"}
        answer = final(
            turn(
                ws,
                tools=TOOLS,
                store=store,
                previous_response_id=final(events)["id"],
                input=[{"type": "function_call_output", "call_id": call["call_id"], "output": "22C and sunny"}],
            )
        )
    assert text_of(answer) == "It is 22C in Paris."


def test_previous_response_not_found_keeps_socket_open(srv):
    with connect(ws_url(srv)) as ws:
        for store in (False, True):
            events = turn(ws, input="hi", store=store, previous_response_id="resp_does_not_exist")
            assert len(events) == 1
            assert_ws_error(events[0], "previous_response_not_found", param="previous_response_id")
            assert "sequence_number" not in events[0]
        still_open(ws)
    # a store:false response lives only on the socket that made it
    with connect(ws_url(srv)) as ws:
        first = final(turn(ws, input="hi", store=False))
    with connect(ws_url(srv)) as ws:
        assert_ws_error(turn(ws, input="hi", store=False, previous_response_id=first["id"])[-1], "previous_response_not_found")
        still_open(ws)


def test_bad_call_id_is_an_error_and_evicts(srv):
    with connect(ws_url(srv)) as ws:
        first = final(turn(ws, input="weather?", tools=TOOLS, store=False))
        bad = [{"type": "function_call_output", "call_id": "call_nope", "output": "x"}]
        error = turn(ws, input=bad, tools=TOOLS, store=False, previous_response_id=first["id"])[-1]
        assert_ws_error(error, "invalid_value", param="input[0].call_id")
        assert "call_nope" in error["error"]["message"]
        # the failed continuation evicted the response it referenced
        good = [{"type": "function_call_output", "call_id": first["output"][0]["call_id"], "output": "22C"}]
        assert_ws_error(turn(ws, input=good, tools=TOOLS, store=False, previous_response_id=first["id"])[-1], "previous_response_not_found")
        still_open(ws)


def test_failed_run_evicts_previous(srv):
    with connect(ws_url(srv)) as ws:
        first = final(turn(ws, input="hi", store=False))
        failed = turn(ws, input="upstream down", store=False, previous_response_id=first["id"])
        assert failed[-1]["type"] == "response.failed"
        assert_ws_error(turn(ws, input="hi", store=False, previous_response_id=first["id"])[-1], "previous_response_not_found")


def test_client_mistakes_are_error_events(srv):
    with connect(ws_url(srv)) as ws:
        send(ws, "{not json")
        assert_ws_error(receive_turn(ws)[-1], "invalid_json")
        send(ws, "[1, 2]")
        assert_ws_error(receive_turn(ws)[-1], "invalid_type")
        send(ws, {"model": "scripted", "input": "hi"})
        assert_ws_error(receive_turn(ws)[-1], "missing_required_parameter", param="type")
        send(ws, {"type": "response.cancel"})
        assert_ws_error(receive_turn(ws)[-1], "invalid_value", param="type")
        assert_ws_error(turn(ws, input="hi", bogus=1)[-1], "unknown_parameter", param="bogus")
        assert_ws_error(turn(ws, input="hi", temperature=7)[-1], "invalid_value", param="temperature")
        assert_ws_error(turn(ws, input="hi", model="nope")[-1], "model_not_found", status=404, param="model")
        assert_ws_error(turn(ws, store=False)[-1], "missing_required_parameter", param="input")
        still_open(ws)


def test_turns_run_one_at_a_time(srv):
    with connect(ws_url(srv)) as ws:
        send(ws, {"type": "response.create", "model": "scripted", "input": "say it slowly", "store": False, "stream_id": "a"})
        send(ws, {"type": "response.create", "model": "scripted", "input": "hi", "store": False, "stream_id": "b"})
        first, second = receive_turn(ws), receive_turn(ws)
    assert {e["stream_id"] for e in first} == {"a"} and {e["stream_id"] for e in second} == {"b"}
    assert final(first)["output"][0]["content"][0]["text"].startswith("one two")
    assert text_of(final(second)) == "Hello from the script."


def test_background_streams_to_the_end(srv):
    with connect(ws_url(srv)) as ws:
        events = turn(ws, input="hi", background=True)
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
    response = final(events)
    assert response["background"] is True and text_of(response) == "Hello from the script."
    assert srv.client().responses.retrieve(response["id"]).status == "completed"


def test_auth_on_upgrade(tmp_path):
    server = Server(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", 'default = "scripted"\n' + SCRIPT, env={"ONWARD_API_KEYS": "k1"}).start()
    try:
        with pytest.raises(InvalidStatus) as refused:
            with connect(ws_url(server)):
                pass
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus):
            with connect(ws_url(server), additional_headers={"Authorization": "Bearer wrong"}):
                pass
        with connect(ws_url(server), additional_headers={"Authorization": "Bearer k1"}) as ws:
            assert text_of(final(turn(ws, input="hi", store=False))) == "Hello from the script."
    finally:
        server.stop()


def test_disconnect_mid_turn_keeps_a_stored_record(srv):
    with connect(ws_url(srv)) as ws:
        send(ws, {"type": "response.create", "model": "scripted", "input": "say it slowly"})
        created = json.loads(ws.recv(timeout=30))
        assert created["type"] == "response.created"
        while json.loads(ws.recv(timeout=30))["type"] != "response.output_text.delta":
            pass
    client = srv.client()
    for _ in range(100):
        stored = client.responses.retrieve(created["response"]["id"])
        if stored.status != "in_progress":
            break
        time.sleep(0.05)
    assert stored.status == "cancelled"
    with connect(ws_url(srv)) as ws:  # and the server carries on
        still_open(ws)


def test_connection_limit(tmp_path, monkeypatch):
    """In process, with the 60-minute limit shrunk: the spec's error, then the socket closes."""
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from onward.api import websocket
    from onward.app import create_app
    from onward.config import Settings

    (tmp_path / "models.toml").write_text('default = "scripted"\n' + SCRIPT)
    monkeypatch.setattr(websocket, "CONNECTION_SECONDS", 0.5)
    settings = Settings.from_env(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", models_file=tmp_path / "models.toml", data_dir=tmp_path)
    with TestClient(create_app(settings)) as client, client.websocket_connect("/v1/responses") as ws:
        assert_ws_error(ws.receive_json(), "websocket_connection_limit_reached")
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()
