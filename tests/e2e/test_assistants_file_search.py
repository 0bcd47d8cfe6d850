"""file_search through tool_resources: the assistant's vector store, a thread's own store
made from message attachments, Assistants-style citations, run steps with `include`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
REPORT = b"Report for the trip: it is 22C in Paris today, and the museum opens at nine."
INCLUDE = "step_details.tool_calls[*].file_search.results[*].content"


def _upload(client, name="report.txt", data=REPORT):
    return client.files.create(file=(name, data), purpose="assistants")


def test_assistant_vector_store_and_citations(server):
    client = server.client()
    f = _upload(client)
    asst = client.beta.assistants.create(
        model="scripted",
        tools=[{"type": "file_search", "file_search": {"max_num_results": 5}}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [f.id]}]}},
    )
    (vs_id,) = asst.tool_resources.file_search.vector_store_ids
    assert client.vector_stores.retrieve(vs_id).id == vs_id  # the same vector store as /v1/vector_stores
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What does the report say about Paris?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, tool_choice={"type": "file_search"})
    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
    search = steps.data[0].step_details.tool_calls[0]
    assert search.type == "file_search" and search.file_search.results[0].file_id == f.id
    assert search.file_search.results[0].file_name == "report.txt" and search.file_search.results[0].content is None
    full = client.beta.threads.runs.steps.retrieve(steps.data[0].id, thread_id=thread.id, run_id=run.id, include=[INCLUDE])
    assert "22C" in full.step_details.tool_calls[0].file_search.results[0].content[0].text
    listed = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, include=[INCLUDE], order="asc")
    assert listed.data[0].step_details.tool_calls[0].file_search.results[0].content
    msg = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    text = msg.content[0].text
    assert text.value.startswith("It is 22C in Paris.")
    cite = text.annotations[0]
    assert cite.type == "file_citation" and cite.file_citation.file_id == f.id
    assert text.value[cite.start_index : cite.end_index] == cite.text == "【4:0†report.txt】"
    item = [i for i in client.conversations.items.list(thread.id) if i.type == "message" and i.role == "assistant"][0]
    assert item.content[0].annotations[0].type == "file_citation" and item.content[0].text == "It is 22C in Paris."  # the Responses form


def test_attachments_make_the_threads_own_store(server):
    client = server.client()
    f = _upload(client, "notes.txt")
    asst = client.beta.assistants.create(model="scripted", tools=[{"type": "file_search"}])
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "What does it say about Paris?", "attachments": [{"file_id": f.id, "tools": [{"type": "file_search"}]}]}]
    )
    (vs_id,) = thread.tool_resources.file_search.vector_store_ids
    vs = client.vector_stores.retrieve(vs_id)
    assert vs.expires_after.days == 7 and vs.expires_after.anchor == "last_active_at"
    assert client.beta.threads.messages.list(thread.id).data[0].attachments[0].file_id == f.id
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id, tool_choice={"type": "file_search"})
    assert run.status == "completed", run.last_error
    msg = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
    assert msg.content[0].text.annotations[0].file_citation.file_id == f.id
    g = _upload(client, "more.txt", b"Oslo is cold.")
    client.beta.threads.messages.create(thread.id, role="user", content="and Oslo?", attachments=[{"file_id": g.id, "tools": [{"type": "file_search"}]}])
    assert client.beta.threads.retrieve(thread.id).tool_resources.file_search.vector_store_ids == [vs_id]
    assert {x.id for x in client.vector_stores.files.list(vs_id)} == {f.id, g.id}


def test_file_search_on_the_embedded_model(server):
    client = server.client()
    f = _upload(client)
    asst = client.beta.assistants.create(model="smollm2", tools=[{"type": "file_search"}], instructions="Answer from the files in one sentence.")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=asst.id,
        thread={"messages": [{"role": "user", "content": "What temperature is it in Paris?", "attachments": [{"file_id": f.id, "tools": [{"type": "file_search"}]}]}]},
        max_completion_tokens=24,
    )
    assert run.status in ("completed", "incomplete"), run.last_error
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc")
    assert steps.data[0].step_details.tool_calls[0].type == "file_search"
