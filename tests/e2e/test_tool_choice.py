"""A forced tool_choice within an Assistants run: it forces the run's first model turn only, so a
run completes after its tool outputs (every SDK submission helper), and the thread takes a
follow-up message and a second run. Responses requests keep tool_choice as sent."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import AssistantEventHandler

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
FORCING = {
    "named": {"type": "function", "function": {"name": "get_weather"}},
    "required": "required",
}


def _forced_thread(client, model: str = "scripted"):
    asst = client.beta.assistants.create(model=model, tools=WEATHER, instructions="Answer in one short sentence.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    return asst, thread


def _outputs(run, output: str = "22C") -> list[dict[str, str]]:
    assert run.status == "requires_action", run.status
    return [{"tool_call_id": c.id, "output": output} for c in run.required_action.submit_tool_outputs.tool_calls]


def _check_thread(client, thread_id: str, runs: int) -> None:
    """Each run made exactly one call, answered it, and ended with an assistant message."""
    kinds = [i.type for i in client.conversations.items.list(thread_id, order="asc", limit=100)]
    one_run = ["function_call", "function_call_output", "message"]
    expected = ["message"] + one_run + (["message"] + one_run) * (runs - 1)
    assert kinds == expected
    assert client.beta.threads.messages.list(thread_id).data[0].role == "assistant"


def _follow_up(client, asst, thread, choice) -> None:
    """The thread is free again: a new message and a second forced run, which completes too."""
    client.beta.threads.messages.create(thread.id, role="user", content="And the weather in Paris tomorrow?")
    second = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, tool_choice=choice)
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=second.id, thread_id=thread.id, tool_outputs=_outputs(second))
    assert done.status == "completed"
    steps = client.beta.threads.runs.steps.list(second.id, thread_id=thread.id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]


@pytest.mark.parametrize("forcing", list(FORCING))
def test_submit_and_poll_completes(server, forcing):
    client = server.client()
    asst, thread = _forced_thread(client)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, tool_choice=FORCING[forcing])
    assert run.required_action.submit_tool_outputs.tool_calls[0].function.name == "get_weather"
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id, tool_outputs=_outputs(run))
    assert done.status == "completed" and done.tool_choice == run.tool_choice  # echoed as created
    assert client.beta.threads.messages.list(thread.id).data[0].content[0].text.value == "It is 22C in Paris."
    _follow_up(client, asst, thread, FORCING[forcing])
    _check_thread(client, thread.id, runs=2)


def test_submit_then_poll(server):
    client = server.client()
    asst, thread = _forced_thread(client)
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, tool_choice="required")
    run = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    client.beta.threads.runs.submit_tool_outputs(run_id=run.id, thread_id=thread.id, tool_outputs=_outputs(run))
    done = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert done.status == "completed"
    _check_thread(client, thread.id, runs=1)


def test_create_thread_and_run_poll(server):
    client = server.client()
    asst = client.beta.assistants.create(model="scripted", tools=WEATHER)
    run = client.beta.threads.create_and_run_poll(
        assistant_id=asst.id, thread={"messages": [{"role": "user", "content": "What is the weather in Paris?"}]}, tool_choice=FORCING["named"]
    )
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=run.thread_id, tool_outputs=_outputs(run))
    assert done.status == "completed"
    _check_thread(client, run.thread_id, runs=1)


class Submitter(AssistantEventHandler):
    """The pattern of OpenAI's Assistants docs: on `requires_action`, answer the calls with
    `submit_tool_outputs_stream` and a new handler, from inside the event handler."""

    def __init__(self, client, submitted: list[str], limit: int = 3) -> None:
        super().__init__()
        self.client = client
        self.submitted = submitted  # run ids, one per submission, shared by nested handlers
        self.limit = limit  # a run that forces calls forever would recurse without end
        self.text: list[str] = []
        self.final_status: list[str] = []

    def on_event(self, event) -> None:
        if event.event == "thread.run.requires_action" and len(self.submitted) < self.limit:
            self.submitted.append(event.data.id)
            nested = Submitter(self.client, self.submitted, self.limit)
            with self.client.beta.threads.runs.submit_tool_outputs_stream(
                thread_id=event.data.thread_id, run_id=event.data.id, tool_outputs=_outputs(event.data), event_handler=nested
            ) as stream:
                stream.until_done()
            self.text += nested.text
            self.final_status += nested.final_status
        elif event.event in ("thread.run.completed", "thread.run.failed", "thread.run.incomplete", "thread.run.expired"):
            self.final_status.append(event.data.status)

    def on_text_delta(self, delta, snapshot) -> None:
        self.text.append(delta.value)


@pytest.mark.parametrize("forcing", list(FORCING))
@pytest.mark.parametrize("helper", ["stream", "create_and_stream"])
def test_event_handler_submits_stream(server, helper, forcing):
    client = server.client()
    asst, thread = _forced_thread(client)
    submitted: list[str] = []
    handler = Submitter(client, submitted)
    start = getattr(client.beta.threads.runs, helper)
    with start(thread_id=thread.id, assistant_id=asst.id, tool_choice=FORCING[forcing], event_handler=handler) as stream:
        stream.until_done()
    assert len(submitted) == 1 and handler.final_status == ["completed"]
    assert "".join(handler.text) == "It is 22C in Paris."
    assert client.beta.threads.runs.retrieve(submitted[0], thread_id=thread.id).status == "completed"
    _follow_up(client, asst, thread, FORCING[forcing])
    _check_thread(client, thread.id, runs=2)


def test_unknown_forced_function_is_400(server):
    client = server.client()
    asst, thread = _forced_thread(client)
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, tool_choice={"type": "function", "function": {"name": "nope"}})
    assert err.value.body["param"] == "tool_choice.function.name"
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, tools=[], tool_choice=FORCING["named"])
    assert err.value.body["param"] == "tool_choice.function.name"
    client.beta.threads.messages.create(thread.id, role="user", content="the thread was never locked")


def test_responses_keep_tool_choice_as_sent(server):
    """The client owns each Responses turn: a forcing choice sent with the tool output forces
    another call; sent with `auto`, the turn answers."""
    client = server.client()
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    first = client.responses.create(model="scripted", input="What is the weather in Paris?", tools=tools, tool_choice="required")
    call = first.output[0]
    answer = [{"type": "function_call_output", "call_id": call.call_id, "output": "22C"}]
    for choice in ("required", {"type": "function", "name": "get_weather"}):
        again = client.responses.create(model="scripted", previous_response_id=first.id, input=answer, tools=tools, tool_choice=choice)
        assert [o.type for o in again.output] == ["function_call"]
        assert again.tool_choice == choice if isinstance(choice, str) else again.tool_choice.name == "get_weather"
    done = client.responses.create(model="scripted", previous_response_id=first.id, input=answer, tools=tools)
    assert done.output_text == "It is 22C in Paris."


# -- the real embedded model -----------------------------------------------------------------


def test_forced_run_completes_on_embedded_model(server):
    """SmolLM2 forced to call get_weather calls it once; after the output the run answers in
    text and completes, and the thread takes a second forced run."""
    client = server.client()
    asst, thread = _forced_thread(client, model="smollm2")
    settings = {"temperature": 0, "max_completion_tokens": 96}
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, tool_choice="required", **settings)
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [c.function.name for c in calls] == ["get_weather"]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id, tool_outputs=_outputs(run, "22C and sunny"))
    assert done.status in ("completed", "incomplete") and done.required_action is None
    reply = client.beta.threads.messages.list(thread.id).data[0]
    assert reply.role == "assistant" and reply.run_id == run.id and reply.content[0].text.value.strip()
    client.beta.threads.messages.create(thread.id, role="user", content="And in Oslo?")
    second = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, tool_choice=FORCING["named"], **settings)
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=second.id, thread_id=thread.id, tool_outputs=_outputs(second, "15C and rainy"))
    assert done.status in ("completed", "incomplete")
    _check_thread(client, thread.id, runs=2)


def test_required_with_hosted_tools_only(server):
    """`required` with only file_search: one search, then the answer (a forced hosted call is
    not forced again after its result); with no tools at all it is a 400."""
    client = server.client()
    vs = client.vector_stores.create(name="empty")
    tools = [{"type": "file_search", "vector_store_ids": [vs.id]}]
    for model in ("scripted", "smollm2"):
        resp = client.responses.create(model=model, input="what does the handbook say?", tools=tools, tool_choice="required", max_output_tokens=24, temperature=0)
        assert [o.type for o in resp.output] == ["file_search_call", "message"] and resp.tool_choice == "required"
    assert resp.status in ("completed", "incomplete")
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="scripted", input="hi", tools=[], tool_choice="required")
    assert err.value.body["param"] == "tool_choice"


def test_unknown_custom_tool_choice_is_400(server):
    body = {"model": "scripted", "input": "hi", "tools": [{"type": "custom", "name": "shout"}], "tool_choice": {"type": "custom", "name": "whisper"}}
    r = httpx.post(f"{server.url}/responses", json=body, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"] == "tool_choice.name"


@pytest.mark.parametrize(
    "choice",
    ["required", {"type": "allowed_tools", "mode": "required", "tools": [{"type": "web_search"}]}],
)
def test_forcing_only_unrun_hosted_tools_answers(server, choice):
    """Like forcing a hosted tool Onward does not run: accepted, echoed, the model answers."""
    resp = server.client().responses.create(model="scripted", input="hi", tools=[{"type": "web_search"}, {"type": "custom", "name": "shout"}] if isinstance(choice, dict) else [{"type": "web_search"}], tool_choice=choice)
    assert resp.status == "completed" and [o.type for o in resp.output] == ["message"]


def test_required_with_a_runnable_tool_among_hosted_ones(server):
    resp = server.client().responses.create(
        model="scripted", input="What is the weather in Paris?", tool_choice="required",
        tools=[{"type": "web_search"}, {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
    )
    assert [o.type for o in resp.output] == ["function_call"] and [t.type for t in resp.tools] == ["web_search", "function"]
