"""`tool_choice: {"type": "allowed_tools", "mode", "tools"}` on every provider: the model sees and
may call only the listed tools; the response echoes the whole tool list and the choice as sent."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import SCRIPT, Server
from tests.fakes import Reply, ToolCall, start_fake_upstream

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _fn(name: str, description: str, **props: dict) -> dict:
    return {"type": "function", "name": name, "description": description, "parameters": {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}, "strict": True}


WEATHER = _fn("get_weather", "Get the current weather for a city.", city={"type": "string"})
EMAIL = _fn("send_email", "Send an email to an address.", to={"type": "string"}, body={"type": "string"})
TIME = _fn("get_time", "Get the current time in a city.", city={"type": "string"})


def allowed(mode: str, *names: str) -> dict:
    return {"type": "allowed_tools", "mode": mode, "tools": [{"type": "function", "name": n} for n in names]}


def calls(resp) -> list[str]:
    return [o.name for o in resp.output if o.type == "function_call"]


def test_scripted_sees_only_allowed_tools(server):
    client = server.client()
    choice = allowed("auto", "get_weather")
    resp = client.responses.create(model="scripted", input="What is the weather in Paris?", tools=[WEATHER, TIME], tool_choice=choice)
    assert calls(resp) == ["get_weather"]
    assert resp.tool_choice.type == "allowed_tools" and resp.tool_choice.mode == "auto"
    assert resp.tool_choice.tools == choice["tools"] and [t.name for t in resp.tools] == ["get_weather", "get_time"]
    hidden = client.responses.create(model="scripted", input="What is the weather in Paris?", tools=[WEATHER, TIME], tool_choice=allowed("auto", "get_time"))
    assert calls(hidden) == [] and hidden.output_text == "Hello from the script."
    forced = client.responses.create(model="scripted", input="What is the weather in Paris?", tools=[WEATHER, TIME], tool_choice=allowed("required", "get_time"))
    assert calls(forced) == ["get_time"]
    stored = client.responses.retrieve(forced.id)
    assert stored.tool_choice.mode == "required" and stored.tool_choice.tools == [{"type": "function", "name": "get_time"}]


def test_allowed_hosted_file_search(server):
    """A hosted tool left out of `allowed_tools` is not run; listed, it is."""
    client = server.client()
    vs = client.vector_stores.create(name="empty")
    tools = [{"type": "file_search", "vector_store_ids": [vs.id]}, WEATHER]
    left_out = client.responses.create(model="scripted", input="what does the handbook say?", tools=tools, tool_choice=allowed("auto", "get_weather"))
    assert [o.type for o in left_out.output] == ["message"] and left_out.output_text == "Hello from the script."
    listed = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "file_search"}]}
    searched = client.responses.create(model="scripted", input="what does the handbook say?", tools=tools, tool_choice=listed)
    assert [o.type for o in searched.output] == ["file_search_call", "message"]
    assert searched.output_text == "I could not find that in the files."


def test_embedded_model_calls_only_allowed_tools(server):
    """SmolLM2's calls are sampled under a grammar of the allowed names: asked about the
    weather with only send_email allowed, it cannot call get_weather."""
    client = server.client()
    question = "What is the weather in Paris?"
    routed = client.responses.create(model="smollm2", input=question, tools=[WEATHER, EMAIL], tool_choice=allowed("auto", "get_weather"), max_output_tokens=48, temperature=0)
    assert calls(routed) == ["get_weather"]
    forced = client.responses.create(model="smollm2", input=question, tools=[WEATHER, EMAIL], tool_choice=allowed("required", "send_email"), max_output_tokens=64, temperature=0)
    assert calls(forced) == ["send_email"]
    free = client.responses.create(model="smollm2", input=question, tools=[WEATHER, EMAIL], tool_choice=allowed("auto", "send_email"), max_output_tokens=32, temperature=0)
    assert "get_weather" not in calls(free) and free.tool_choice.tools == [{"type": "function", "name": "send_email"}]


@pytest.mark.parametrize(
    "choice, param",
    [
        (allowed("auto", "nope"), "tool_choice.tools[0].name"),
        (allowed("sometimes", "get_weather"), "tool_choice.mode"),
        ({"type": "allowed_tools", "mode": "auto", "tools": []}, "tool_choice.tools"),
        ({"type": "allowed_tools", "mode": "auto"}, "tool_choice.tools"),
        ({"type": "allowed_tools", "mode": "auto", "tools": ["get_weather"]}, "tool_choice.tools[0]"),
        ({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function"}]}, "tool_choice.tools[0].name"),
        ({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "file_search"}]}, "tool_choice.tools[0].type"),
        ({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}], "extra": 1}, "tool_choice.extra"),
        ({"type": "function", "name": "nope"}, "tool_choice.name"),
    ],
)
def test_invalid_tool_choice_is_400(server, choice, param):
    r = httpx.post(f"{server.url}/responses", json={"model": "scripted", "input": "hi", "tools": [WEATHER], "tool_choice": choice}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param and r.json()["error"]["type"] == "invalid_request_error"


def test_assistants_runs_do_not_take_allowed_tools(server):
    """Assistants' run tool_choice is none/auto/required or one named tool (AssistantToolChoice)."""
    client = server.client()
    asst = client.beta.assistants.create(model="scripted")
    thread = client.beta.threads.create()
    r = httpx.post(
        f"{server.url}/threads/{thread.id}/runs",
        json={"assistant_id": asst.id, "tool_choice": allowed("auto", "get_weather")},
        headers={"OpenAI-Beta": "assistants=v2"},
        timeout=30,
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "tool_choice"
    assert client.beta.threads.runs.list(thread.id).data == []


# -- upstreams: what goes on the wire ---------------------------------------------------------


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory):
    base_url, control = start_fake_upstream()
    tmp = tmp_path_factory.mktemp("allowed")
    toml = (
        'default = "chat"\n' + SCRIPT + f'\n[models.chat]\nprovider = "chat_completions"\nbase_url = "{base_url}"\nupstream_model = "fake-model"\n'
        f'\n[models.responses_up]\nprovider = "openai_responses"\nbase_url = "{base_url}"\nupstream_model = "fake-model"\n'
    )
    srv = Server(tmp, f"sqlite:///{tmp / 'o.db'}", toml).start()
    yield srv, control
    srv.stop()
    control.close()


@pytest.mark.parametrize("mode", ["auto", "required"])
def test_chat_completions_upstream_gets_only_allowed_tools(upstreams, mode):
    """Generic Chat Completions servers (vLLM, llama.cpp) have no allowed_tools: they are sent
    only the allowed tools, with the mode as tool_choice."""
    srv, control = upstreams
    control.reset()
    control.reply = Reply(tool_calls=[ToolCall("get_time", '{"city": "Paris"}')])
    resp = srv.client().responses.create(model="chat", input="time in Paris?", tools=[WEATHER, TIME, EMAIL], tool_choice=allowed(mode, "get_time"))
    assert calls(resp) == ["get_time"] and [t.name for t in resp.tools] == ["get_weather", "get_time", "send_email"]
    assert resp.tool_choice.type == "allowed_tools" and resp.tool_choice.mode == mode
    sent = control.requests[-1].body
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_time"]
    assert sent.get("tool_choice", "auto") == mode


def test_responses_upstream_gets_allowed_tools_as_is(upstreams):
    srv, control = upstreams
    control.reset()
    control.reply = Reply(text="Sunny.")
    choice = allowed("required", "get_weather")
    resp = srv.client().responses.create(model="responses_up", input="weather?", tools=[WEATHER, TIME], tool_choice=choice)
    assert resp.output_text == "Sunny."
    sent = control.requests[-1].body
    assert [t["name"] for t in sent["tools"]] == ["get_weather", "get_time"] and sent["tool_choice"] == choice
