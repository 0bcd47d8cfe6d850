"""schemathesis against a live `onward serve`: the app's own /openapi.json (on SQLite; its
answers must also match the document) and OpenAI's spec of the same API (on PostgreSQL;
tests/fixtures/openai-openapi-subset.json.gz is a gzipped copy of the public spec's subset
Onward serves). Any 5xx fails. The budget is bounded (MAX_EXAMPLES cases per operation,
derandomized, so CI runs the same cases every time) and the only model is a scripted route,
so a fuzzed response costs milliseconds."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.conftest import Server

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "openai-openapi-subset.json.gz"
MAX_EXAMPLES = 8
MODELS = """default = "scripted"
[models.scripted]
provider = "scripted"
script = [ { text = "Hello from the script." } ]
"""


def _serve(tmp_path_factory, database_url: str | None = None):
    tmp = tmp_path_factory.mktemp("fuzz")
    srv = Server(tmp, database_url or f"sqlite:///{tmp / 'onward.db'}", MODELS).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory, pg_database):
    yield from _serve(tmp_path_factory, pg_database)


def _objects(server) -> dict[str, str]:
    """Real objects of every kind, by path parameter name: half the cases address them, so
    fuzzed bodies reach the code behind the 404s."""
    client = server.client()
    resp = client.responses.create(model="scripted", input="hi")
    conv = client.conversations.create(items=[{"type": "message", "role": "user", "content": "hello"}])
    item = client.conversations.items.list(conv.id).data[0]
    file = client.files.create(file=("notes.txt", b"Vacation: 25 days per year."), purpose="assistants")
    vs = client.vector_stores.create(name="fuzz", file_ids=[file.id])
    batch = client.vector_stores.file_batches.create(vector_store_id=vs.id, file_ids=[file.id])
    assistant = client.beta.assistants.create(model="scripted", name="fuzz")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    message = client.beta.threads.messages.list(thread.id).data[0]
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0]
    return {
        "response_id": resp.id,
        "conv_id": conv.id,
        "conversation_id": conv.id,
        "item_id": item.id,
        "file_id": file.id,
        "vs_id": vs.id,
        "vector_store_id": vs.id,
        "batch_id": batch.id,
        "assistant_id": assistant.id,
        "thread_id": thread.id,
        "message_id": message.id,
        "run_id": run.id,
        "step_id": step.id,
        "model_id": "scripted",
    }


def _with_real_ids(operation, ids: dict[str, str]):
    """The operation's cases, half of them (hypothesis picks which) on real objects. DELETEs
    keep their random ids so the objects live through the whole run."""
    def place(pair):
        case, real = pair
        if real and case.path_parameters and operation.method.upper() != "DELETE":
            for name in case.path_parameters:
                if name in ids:
                    case.path_parameters[name] = ids[name]
        return case

    return st.tuples(operation.as_strategy(), st.booleans()).map(place)


def _server_errors(schema, base_url: str, ids: dict[str, str], statuses: Counter, checks: list) -> list[str]:
    """Run every operation's positive cases (MAX_EXAMPLES each, derandomized: the same cases
    on every run) and return what answered 5xx: one entry per operation, with the curl of the
    smallest failing case hypothesis found. `statuses` counts the answers by operation and
    status class."""
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
        @given(case=_with_real_ids(operation, ids))
        def run(case):
            response = case.call(base_url=base_url, timeout=30)
            statuses[(case.operation.label, response.status_code // 100)] += 1
            case.validate_response(response, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis: FailureGroup
            found.append(f"{operation.label}: {str(exc)[:1500]}")
    return found


def _check(schema, base_url: str, operations: int, ids: dict[str, str], checks: list) -> None:
    statuses: Counter = Counter()
    errors = _server_errors(schema, base_url, ids, statuses, checks)
    assert not errors, f"{len(errors)} operations failed:\n\n" + "\n\n".join(errors)
    # the run really exercised the server: every operation was called, and both accepted
    # and rejected cases came back
    assert len({label for label, _ in statuses}) >= operations
    assert sum(n for (_, kind), n in statuses.items() if kind == 2) > operations / 3
    assert sum(n for (_, kind), n in statuses.items() if kind == 4) > operations


def test_own_document_never_5xx_and_true(sqlite_server):
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{sqlite_server.port}/openapi.json")
    # our own document must also tell the truth: every answer matches its declared schema
    # and content type
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    _check(schema, f"http://127.0.0.1:{sqlite_server.port}", 60, _objects(sqlite_server), checks)


def test_openai_spec_never_5xx(postgres_server):
    schema = schemathesis.openapi.from_dict(json.loads(gzip.decompress(REFERENCE.read_bytes())))
    _check(schema, postgres_server.url, 50, _objects(postgres_server), [not_a_server_error])
