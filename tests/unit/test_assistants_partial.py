"""A cut-short run's partial message, rebuilt from its stored events (as recovery after a
crash does) and from the worker's own copy: the same text and citations as were streamed."""

from __future__ import annotations

import orjson

from onward.assistants.hub import Emitter, Held
from onward.assistants.objects import parts_to_content
from onward.assistants.partial import from_events, mark_incomplete
from onward.assistants.translate import Translator


class Event:
    def __init__(self, **kw):
        self.__dict__.update(kw)


RUN = {"id": "run_1", "thread_id": "thread_1", "assistant_id": "asst_1"}


def translated():
    em = Emitter(Held(), "run_1", 0)  # type: ignore[arg-type]
    tr = Translator(dict(RUN), em)
    tr.feed(Event(type="response.output_item.added", item={"type": "message", "id": "msg_1"}))
    tr.feed(Event(type="response.output_text.delta", item_id="msg_1", delta="Vacation is "))
    tr.feed(Event(type="response.output_text.annotation.added", item_id="msg_1", annotation_index=0, annotation={"type": "file_citation", "file_id": "file_9", "filename": "handbook.txt", "index": 12}))
    tr.feed(Event(type="response.output_text.delta", item_id="msg_1", delta="25 days"))
    return tr, em


def streamed_text(events):
    out = []
    for _seq, name, data in events:
        if name == "thread.message.delta":
            out += [p["text"]["value"] for p in orjson.loads(data)["delta"]["content"]]
    return "".join(out)


def test_rebuilt_from_events_matches_the_stream():
    _tr, em = translated()
    events = [(seq, name, data.decode()) for seq, name, data in em.take()]
    [(message, item)] = from_events(events)
    assert message["id"] == item["id"] == "msg_1" and item["status"] == "incomplete"
    content = parts_to_content(item["content"])
    assert content[0]["text"]["value"] == streamed_text(events) == "Vacation is 【4:0†handbook.txt】25 days"
    [cite] = content[0]["text"]["annotations"]
    assert cite["file_citation"]["file_id"] == "file_9" and content[0]["text"]["value"][cite["start_index"] : cite["end_index"]] == cite["text"]
    fields = mark_incomplete(message, item, "failed")
    assert message["status"] == "incomplete" and message["incomplete_details"] == {"reason": "run_failed"}
    assert fields["extra"]["incomplete_details"] == {"reason": "run_failed"} and fields["run_id"] == "run_1"


def test_ended_messages_are_not_partial():
    _tr, em = translated()
    events = [(seq, name, data.decode()) for seq, name, data in em.take()]
    events.append((99, "thread.message.completed", orjson.dumps({"id": "msg_1"}).decode()))
    assert from_events(events) == []


def test_worker_copy_is_the_same_as_the_stored_one():
    tr, em = translated()
    events = [(seq, name, data.decode()) for seq, name, data in em.take()]
    [(_msg, from_store)] = from_events(events)
    items, fields = tr.partials("cancelled")
    assert items == [from_store]
    assert fields[0]["extra"]["incomplete_details"] == {"reason": "run_cancelled"}
    tr.finish("cancelled", None)
    names = [name for _seq, name, _data in em.take()]
    assert names == ["thread.message.incomplete", "thread.run.step.cancelled"]
