"""Several `onward serve` processes on one PostgreSQL database: a background response made by
one is streamed live from another, and chains continue across processes."""

from __future__ import annotations

from tests.conftest import SCRIPT, Server


def test_stream_a_background_response_from_another_process(tmp_path, pg_database):
    toml = 'default = "scripted"\n' + SCRIPT
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(tmp_path / "a", pg_database, toml)
    b = Server(tmp_path / "b", pg_database, toml)
    a.start()
    b.start()
    try:
        made = a.client().responses.create(model="scripted", input="say it slowly", background=True)
        events = list(b.client().responses.retrieve(made.id, stream=True, starting_after=1))
        assert events[0].sequence_number == 2 and events[-1].type == "response.completed"
        assert [e.sequence_number for e in events] == list(range(2, 2 + len(events)))
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == events[-1].response.output_text
        # a chain started on one process continues on the other
        r1 = a.client().responses.create(model="scripted", input="hi")
        r2 = b.client().responses.create(model="scripted", input="again", previous_response_id=r1.id)
        assert r2.status == "completed" and r2.usage.input_tokens > r1.usage.input_tokens
    finally:
        a.stop()
        b.stop()
