"""Assistants API v2 through the unchanged SDK helpers: objects, messages, runs, tool calls,
run steps, the thread lock, and one set of data with Conversations and Responses."""

from __future__ import annotations

import httpx
import httpx2
import openai
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def assistant(client, **kw):
    kw.setdefault("model", "scripted")
    return client.beta.assistants.create(**kw)


def texts(client, thread_id, **kw):
    return [(m.role, m.content[0].text.value) for m in client.beta.threads.messages.list(thread_id, order="asc", **kw)]


def test_assistant_crud_and_paging(server):
    client = server.client()
    made = [assistant(client, name=f"a{i}", instructions="x", metadata={"n": str(i)}, tools=WEATHER + [{"type": "code_interpreter"}]) for i in range(3)]
    a = made[0]
    assert a.id.startswith("asst_") and a.object == "assistant" and a.tools[0].function.name == "get_weather"
    assert a.tools[1].type == "code_interpreter" and a.temperature == 1.0 and a.top_p == 1.0 and a.response_format == "auto"
    page = client.beta.assistants.list(limit=2, order="asc", after=made[0].id)
    assert [x.id for x in page.data] == [made[1].id, made[2].id]
    before = client.beta.assistants.list(order="asc", before=made[2].id, limit=1)
    assert [x.id for x in before.data] == [made[1].id]
    desc = client.beta.assistants.list(limit=1)
    assert desc.has_more and desc.data[0].created_at >= made[0].created_at
    got = client.beta.assistants.retrieve(a.id)
    assert got.name == "a0" and got.metadata == {"n": "0"}
    upd = client.beta.assistants.update(a.id, name="renamed", metadata={"k": "v"}, temperature=0.5, response_format={"type": "json_object"})
    assert upd.name == "renamed" and upd.metadata == {"k": "v"} and upd.temperature == 0.5 and upd.instructions == "x"
    assert client.beta.assistants.delete(a.id).deleted
    with pytest.raises(openai.NotFoundError) as err:
        client.beta.assistants.retrieve(a.id)
    assert err.value.body["message"] == f"No assistant found with id '{a.id}'."
    with pytest.raises(openai.NotFoundError) as err:
        client.beta.assistants.create(model="no-such-model")
    assert err.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.assistants.create(model="scripted", tools=[{"type": "web_search"}])
    assert err.value.param == "tools[0].type"


def test_thread_is_a_conversation(server):
    client = server.client()
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "first", "metadata": {"m": "1"}}], metadata={"team": "a"})
    assert thread.id.startswith("thread_") and thread.metadata == {"team": "a"}
    conv = client.conversations.retrieve(thread.id)
    assert conv.id == thread.id and conv.metadata == {"team": "a"}
    items = list(client.conversations.items.list(thread.id))
    assert items[0].type == "message" and items[0].content[0].text == "first"
    other = client.conversations.create(items=[{"role": "user", "content": "from conversations"}])
    seen = client.beta.threads.retrieve(other.id)
    assert seen.id == other.id and seen.object == "thread"
    assert texts(client, other.id) == [("user", "from conversations")]
    upd = client.beta.threads.update(thread.id, metadata={"team": "b"})
    assert upd.metadata == {"team": "b"} and client.conversations.retrieve(thread.id).metadata == {"team": "b"}
    assert client.beta.threads.delete(thread.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(thread.id)
    with pytest.raises(openai.NotFoundError) as err:
        client.beta.threads.retrieve(thread.id)
    assert err.value.body["message"] == f"No thread found with id '{thread.id}'."


def test_messages_crud_and_paging(server):
    client = server.client()
    thread = client.beta.threads.create()
    made = [client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}") for i in range(4)]
    parts = client.beta.threads.messages.create(
        thread.id,
        role="user",
        content=[{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}],
        metadata={"k": "v"},
    )
    made.append(parts)
    m = made[0]
    assert m.object == "thread.message" and m.thread_id == thread.id and m.role == "user" and m.status == "completed"
    assert m.assistant_id is None and m.run_id is None and m.attachments == [] and m.metadata == {}
    assert parts.content[1].type == "image_url" and parts.content[1].image_url.url == "https://example.com/a.png"
    first = client.beta.threads.messages.list(thread.id, order="asc", limit=2)
    assert [x.id for x in first.data] == [made[0].id, made[1].id] and first.has_more
    second = client.beta.threads.messages.list(thread.id, order="asc", limit=2, after=first.data[-1].id)
    assert [x.id for x in second.data] == [made[2].id, made[3].id]
    back = client.beta.threads.messages.list(thread.id, order="asc", limit=2, before=made[3].id)
    assert [x.id for x in back.data] == [made[1].id, made[2].id]
    desc = client.beta.threads.messages.list(thread.id, limit=1)
    assert desc.data[0].id == parts.id
    all_ids = [x.id for x in client.beta.threads.messages.list(thread.id, limit=2)]  # auto-paging
    assert all_ids == [x.id for x in reversed(made)]
    got = client.beta.threads.messages.retrieve(made[1].id, thread_id=thread.id)
    assert got.content[0].text.value == "m1"
    upd = client.beta.threads.messages.update(made[1].id, thread_id=thread.id, metadata={"a": "b"})
    assert upd.metadata == {"a": "b"}
    assert client.beta.threads.messages.delete(made[1].id, thread_id=thread.id).deleted
    with pytest.raises(openai.NotFoundError) as err:
        client.beta.threads.messages.retrieve(made[1].id, thread_id=thread.id)
    assert err.value.body["message"] == f"No message found with id '{made[1].id}'."
    with pytest.raises(openai.NotFoundError) as err:
        client.beta.threads.messages.create("thread_missing", role="user", content="x")
    assert err.value.body["message"] == "No thread found with id 'thread_missing'."


def _counting_client(server):
    gets: list[str] = []

    def hook(request):
        if request.method == "GET" and "/runs/" in request.url.path:
            gets.append(request.url.path)

    return server.client(http_client=httpx2.Client(event_hooks={"request": [hook]})), gets


def test_create_and_poll_text(server):
    client, gets = _counting_client(server)
    asst = assistant(client, instructions="Be brief.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, metadata={"x": "y"})
    assert run.status == "completed" and run.object == "thread.run" and run.metadata == {"x": "y"}
    assert len(gets) <= 2  # long poll: the helper's GET waits for the run to settle
    assert run.started_at and run.completed_at and run.expires_at is None and run.required_action is None
    assert run.instructions == "Be brief." and run.model == "scripted" and run.tools == []
    assert run.usage.prompt_tokens > 0 and run.usage.completion_tokens > 0
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens
    assert run.truncation_strategy.type == "auto" and run.parallel_tool_calls is True and run.tool_choice == "auto"
    assert texts(client, thread.id) == [("user", "hello"), ("assistant", "Hello from the script.")]
    mine = client.beta.threads.messages.list(thread.id, run_id=run.id)
    assert len(mine.data) == 1 and mine.data[0].run_id == run.id and mine.data[0].assistant_id == asst.id
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert [s.type for s in steps.data] == ["message_creation"]
    step = steps.data[0]
    assert step.status == "completed" and step.step_details.message_creation.message_id == mine.data[0].id
    assert step.usage.total_tokens == run.usage.total_tokens
    assert client.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id).id == step.id
    listed = client.beta.threads.runs.list(thread.id)
    assert [r.id for r in listed.data] == [run.id]
    mod = client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"k": "v"})
    assert mod.metadata == {"k": "v"} and mod.status == "completed"
    raw = httpx.get(f"{server.url}/threads/{thread.id}/runs/{run.id}", headers={"OpenAI-Beta": "assistants=v2"})
    assert raw.status_code == 200 and "openai-poll-after-ms" in raw.headers


def test_function_call_submit_and_poll(server):
    client = server.client()
    asst = assistant(client, tools=WEATHER)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "what is the weather in Paris?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action" and run.required_action.type == "submit_tool_outputs"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert call.id.startswith("call_") and call.type == "function" and call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Paris"}' and run.expires_at
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert steps.data[0].type == "tool_calls" and steps.data[0].status == "in_progress"
    assert steps.data[0].step_details.tool_calls[0].function.output is None
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "22C"}])
    assert done.status == "completed" and done.required_action is None
    assert texts(client, thread.id)[-1] == ("assistant", "It is 22C in Paris.")
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
    tool_step = steps.data[0]
    assert tool_step.status == "completed" and tool_step.step_details.tool_calls[0].function.output == "22C"
    assert tool_step.step_details.tool_calls[0].id == call.id
    kinds = [i.type for i in client.conversations.items.list(thread.id, order="asc")]
    assert kinds == ["message", "function_call", "function_call_output", "message"]


def test_parallel_tool_calls(server):
    client = server.client()
    asst = assistant(client, tools=WEATHER)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather in both cities"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [c.function.arguments for c in calls] == ['{"city":"Paris"}', '{"city":"Oslo"}']
    with pytest.raises(openai.BadRequestError):  # every call needs its output
        client.beta.threads.runs.submit_tool_outputs(run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": calls[0].id, "output": "22C"}])
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": c.id, "output": "22C"} for c in calls]
    )
    assert done.status == "completed"
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data[0]
    assert [c.function.output for c in step.step_details.tool_calls] == ["22C", "22C"]


def test_thread_lock_and_state_errors(server):
    client = server.client()
    asst = assistant(client, tools=WEATHER)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.messages.create(thread.id, role="user", content="more")
    assert err.value.body["message"] == f"Can't add messages to {thread.id} while a run {run.id} is active."
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
    assert err.value.body["message"] == f"Thread {thread.id} already has an active run {run.id}."
    with pytest.raises(openai.BadRequestError) as err:  # the conversation is locked for Responses too
        client.responses.create(model="scripted", input="hi", conversation=thread.id)
    assert err.value.code == "conversation_locked"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "22C"}])
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.submit_tool_outputs(run_id=done.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "x"}])
    assert err.value.body["message"] == 'Runs in status "completed" do not accept tool outputs.'
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.cancel(run_id=done.id, thread_id=thread.id)
    assert err.value.body["message"] == "Cannot cancel run with status 'completed'."
    with pytest.raises(openai.NotFoundError) as err:
        client.beta.threads.runs.retrieve("run_missing", thread_id=thread.id)
    assert err.value.body["message"] == "No run found with id 'run_missing'."
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_missing")
    client.beta.threads.messages.create(thread.id, role="user", content="unlocked again")
    r = httpx.post(f"{server.url}/threads/{thread.id}/runs", json={"assistant_id": asst.id, "bogus": 1}, headers={"OpenAI-Beta": "assistants=v2"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_parameter"


def test_cancel_requires_action_and_in_progress(server):
    client = server.client()
    asst = assistant(client, tools=WEATHER)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    cancelled = client.beta.threads.runs.cancel(run_id=run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0]
    assert step.status == "cancelled"
    assert [i.type for i in client.conversations.items.list(thread.id)] == ["message"]  # no unanswered call
    client.beta.threads.messages.create(thread.id, role="user", content="say it slowly")
    slow = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
    for _ in range(100):
        if client.beta.threads.runs.retrieve(slow.id, thread_id=thread.id).status == "in_progress":
            break
    stopped = client.beta.threads.runs.cancel(run_id=slow.id, thread_id=thread.id)
    if stopped.status == "cancelling":
        stopped = client.beta.threads.runs.poll(slow.id, thread_id=thread.id)
    assert stopped.status == "cancelled"
    kept = client.beta.threads.messages.list(thread.id, order="asc").data
    assert [m.role for m in kept[:2]] == ["user", "user"]
    assert all(m.status == "incomplete" and m.incomplete_details.reason == "run_cancelled" for m in kept[2:])  # its partial answer
    after = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, tools=[])
    assert after.status == "completed"


def test_create_and_run_with_overrides(server):
    client = server.client()
    asst = assistant(client, instructions="base", tools=WEATHER)
    run = client.beta.threads.create_and_run_poll(
        assistant_id=asst.id,
        thread={"messages": [{"role": "user", "content": "weather please"}], "metadata": {"t": "1"}},
        instructions="override",
        tool_choice="none",
        temperature=0.2,
        top_p=0.9,
        metadata={"r": "1"},
    )
    assert run.status == "completed" and run.instructions == "override" and run.tool_choice == "none"
    assert run.temperature == 0.2 and run.top_p == 0.9 and run.metadata == {"r": "1"}
    assert client.beta.threads.retrieve(run.thread_id).metadata == {"t": "1"}
    run2 = client.beta.threads.runs.create_and_poll(
        thread_id=run.thread_id,
        assistant_id=asst.id,
        additional_instructions="extra",
        additional_messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}},
        tools=[],
        model="scripted",
    )
    assert run2.status == "completed" and run2.instructions == "base\n\nextra" and run2.tools == []
    assert run2.response_format.type == "json_schema"
    assert texts(client, run.thread_id)[-2:] == [("user", "json please"), ("assistant", '{"name": "Ada", "age": 36}')]
    forced = client.beta.threads.runs.create_and_poll(
        thread_id=run.thread_id, assistant_id=asst.id, tool_choice={"type": "function", "function": {"name": "get_weather"}},
        additional_messages=[{"role": "user", "content": "weather"}], parallel_tool_calls=False,
    )
    assert forced.status == "requires_action" and forced.parallel_tool_calls is False
    client.beta.threads.runs.cancel(run_id=forced.id, thread_id=run.thread_id)


def test_failures_end_cleanly(server):
    client = server.client()
    asst = assistant(client, tools=WEATHER + [{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "upstream down"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "failed" and run.last_error.code == "server_error" and "503" in run.last_error.message and run.failed_at
    plain = assistant(client, tools=WEATHER)  # tool_choice names a tool the run does not have: 400
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=plain.id, tool_choice={"type": "code_interpreter"})
    assert err.value.body["param"] == "tool_choice" and "code_interpreter" in err.value.body["message"]
    assert [i.type for i in client.conversations.items.list(thread.id)] == ["message"]


def test_budgets_and_truncation(server):
    client = server.client()
    asst = assistant(client)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "say it slowly"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, max_completion_tokens=5)
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_completion_tokens"
    assert run.usage.completion_tokens == 5
    msg = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    assert msg.status == "incomplete" and msg.incomplete_details.reason == "max_tokens"
    long = " ".join(["word"] * 400)
    client.beta.threads.messages.create(thread.id, role="user", content=long)
    client.beta.threads.messages.create(thread.id, role="user", content="hello")
    small = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, truncation_strategy={"type": "last_messages", "last_messages": 1})
    full = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert small.status == full.status == "completed"
    assert small.truncation_strategy.last_messages == 1
    assert small.usage.prompt_tokens < 10 < 400 < full.usage.prompt_tokens
    capped = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, max_prompt_tokens=256, truncation_strategy={"type": "last_messages", "last_messages": 4})
    assert capped.status == "incomplete" and capped.incomplete_details.reason == "max_prompt_tokens"
    fitted = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, max_prompt_tokens=256)
    assert fitted.status == "completed" and fitted.usage.prompt_tokens <= 256  # auto truncation fits the budget


def test_two_faced_thread(server):
    """Written through Assistants, continued through Responses, read back through Assistants."""
    client = server.client()
    asst = assistant(client)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "completed"
    resp = client.responses.create(model="scripted", input="again", conversation=thread.id)
    assert resp.output_text == "Hello from the script."
    assert resp.usage.input_tokens > run.usage.prompt_tokens  # it saw the thread
    client.conversations.items.create(thread.id, items=[{"role": "user", "content": "from items"}])
    seen = texts(client, thread.id)
    assert seen == [("user", "hello"), ("assistant", "Hello from the script."), ("user", "again"), ("assistant", "Hello from the script."), ("user", "from items")]
    later = client.beta.threads.messages.list(thread.id).data[1]
    assert later.id == resp.output[0].id and later.run_id is None
    run2 = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run2.status == "completed" and run2.usage.prompt_tokens > resp.usage.input_tokens


def test_embedded_model(server):
    client = server.client()
    asst = client.beta.assistants.create(model="smollm2", instructions="Answer in one short sentence.")
    run = client.beta.threads.create_and_run_poll(assistant_id=asst.id, thread={"messages": [{"role": "user", "content": "Name a color."}]}, max_completion_tokens=16)
    assert run.status in ("completed", "incomplete")
    msgs = client.beta.threads.messages.list(run.thread_id, run_id=run.id)
    assert msgs.data and msgs.data[0].role == "assistant" and msgs.data[0].content[0].text.value
    assert run.usage.completion_tokens <= 16


def test_deleting_a_thread_cancels_its_run(server):
    client = server.client()
    asst = assistant(client, tools=WEATHER)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}], tool_resources={"code_interpreter": {"file_ids": []}})
    assert thread.tool_resources.code_interpreter.file_ids == []
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"
    assert client.beta.threads.delete(thread.id).deleted
    r = httpx.get(f"{server.url}/threads/{thread.id}/runs/{run.id}")
    assert r.json()["status"] == "cancelled"
