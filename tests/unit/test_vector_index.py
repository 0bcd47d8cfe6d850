"""Chunk vectors in the database's own index (store/vector_index.py), on SQLite (sqlite-vec)
and PostgreSQL (pgvector): exact filters, several dimensions, deletion, migration 0010."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from onward.retrieval import index
from onward.retrieval.search import Searcher, validate_filter
from onward.store import vector_index
from onward.store.db import _alembic_config, make_engine, migrate
from onward.store.vector_stores import VectorStoreStore
from tests.conftest import new_pg_database

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the engine fixture runs in the session loop


class AxisEmbedder:
    """A text whose first word is a letter and a number N ("c3 …" for chunks, "q3 …" for
    queries: no keyword in common) → the unit vector on axis N plus a small shared component
    (every similarity > 0), so a test chooses which chunk is nearest to which query."""

    def __init__(self, dim: int, name: str | None = None) -> None:
        self.dim = dim
        self.name = name or f"test:axis-{dim}"

    def vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        v[0] = 0.2
        v[1 + int(text.split()[0][1:]) % (self.dim - 1)] = 1.0
        return v / np.linalg.norm(v)

    async def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vector(t) for t in texts])


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request, tmp_path: Path):
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
        await migrate(eng)
        yield eng
        await eng.dispose()
        return
    with new_pg_database("onward_vectors") as url:
        eng = make_engine(url)
        await migrate(eng)
        yield eng
        await eng.dispose()


async def _add(store: VectorStoreStore, vs_id: str, file_id: str, texts: list[str], embedder: AxisEmbedder | None, attributes=None) -> None:
    token = f"tok-{file_id}-{time.monotonic_ns()}"
    entry = {"file_id": file_id, "filename": f"{file_id}.txt", "chunking_strategy": {}, "attributes": attributes, "token": token}
    await store.add_files(vs_id, [entry], batch_id=None, owner="test", lease_until=time.time() + 60)
    vecs = await embedder.embed(texts) if embedder else None
    rows = index.chunk_rows(texts, vecs, embedder.name if embedder else None)
    assert await store.finish_ingest(vs_id, file_id, token, content="\n".join(texts), usage_bytes=1, chunks=rows)


async def _new_store(store: VectorStoreStore, vs_id: str) -> str:
    await store.create(vs_id, name=vs_id, description=None, metadata={}, expires_after=None)
    return vs_id


async def _vector_rows(engine, dim: int) -> list[tuple[int, str]]:
    async with engine.connect() as conn:
        if dim not in await vector_index.existing_dims(conn):
            return []
        rows = await conn.execute(sa.text(f"SELECT chunk_id, vector_store_id FROM {vector_index.table_name(dim)} ORDER BY chunk_id"))
        return [tuple(r) for r in rows]


async def _search(engine, embedder, vs_ids, query, n=5, filters=None):
    hits = await Searcher(engine, embedder).search(vs_ids, [query], max_num_results=n, filters=validate_filter(filters) if filters else None, score_threshold=None)
    return hits


async def test_a_filter_that_excludes_the_nearest_vectors_excludes_them(engine):
    store, emb = VectorStoreStore(engine), AxisEmbedder(32)
    vs = await _new_store(store, "vs_filters")
    # 700 chunks of one file sit right on the query's c more than any candidate list
    await _add(store, vs, "file_near", [f"c3 near chunk {i}" for i in range(700)], emb, {"team": "a", "n": 1})
    await _add(store, vs, "file_far", [f"c{4 + i} far chunk {i}" for i in range(4)], emb, {"team": "b", "n": 2})
    hits = await _search(engine, emb, [vs], "q3 zzzz")
    assert {h["file_id"] for h in hits} == {"file_near"}
    for flt in ({"type": "eq", "key": "team", "value": "b"}, {"type": "gt", "key": "n", "value": 1}, {"type": "nin", "key": "team", "value": ["a"]}):
        hits = await _search(engine, emb, [vs], "q3 zzzz", n=10, filters=flt)
        # every chunk of the far file, none of the near one's: the filter is exact
        assert sorted(h["text"] for h in hits) == sorted(f"c{4 + i} far chunk {i}" for i in range(4)), flt
    assert await _search(engine, emb, [vs], "q3 zzzz", filters={"type": "eq", "key": "team", "value": "c"}) == []
    # a store not searched is not found, even when nearer
    other = await _new_store(store, "vs_other")
    await _add(store, other, "file_other", ["c9 other"], emb)
    hits = await _search(engine, emb, [vs], "q9 zzzz", filters={"type": "eq", "key": "team", "value": "b"})
    assert hits and all(h["vector_store_id"] == vs for h in hits)
    hits = await _search(engine, emb, [vs, other], "q9 zzzz", n=1)
    assert hits[0]["file_id"] == "file_other" and hits[0]["score"] == pytest.approx(1.0)


async def test_each_dimension_has_its_own_table_and_models_never_mix(engine):
    store = VectorStoreStore(engine)
    vs = await _new_store(store, "vs_dims")
    small, large, odd = AxisEmbedder(16), AxisEmbedder(48), AxisEmbedder(12)
    twin = AxisEmbedder(16, name="test:other-model-16")  # same dimension, another model
    await _add(store, vs, "file_16", ["c5 sixteen"], small)
    await _add(store, vs, "file_48", ["c5 forty-eight"], large)
    await _add(store, vs, "file_12", ["c5 twelve"], odd)  # no index on SQLite (not a multiple of 8): exact
    await _add(store, vs, "file_twin", ["c5 twin"], twin)
    async with engine.connect() as conn:
        dims = await vector_index.existing_dims(conn)
    assert {16, 48} <= dims
    for emb, file_id in ((small, "file_16"), (large, "file_48"), (odd, "file_12"), (twin, "file_twin")):
        hits = await _search(engine, emb, [vs], "q5 zzzz")  # no keyword match: vectors alone
        assert [h["file_id"] for h in hits] == [file_id], emb.name
    # a dimension never stored finds nothing, and fails nothing
    assert await _search(engine, AxisEmbedder(40), [vs], "q5 zzzz") == []


async def test_deleting_files_and_stores_deletes_their_vectors(engine):
    store, emb = VectorStoreStore(engine), AxisEmbedder(24)
    vs, vs2 = await _new_store(store, "vs_del"), await _new_store(store, "vs_keep")
    await _add(store, vs, "file_a", ["c1 a one", "c1 a two"], emb)
    await _add(store, vs, "file_b", ["c2 b"], emb)
    await _add(store, vs2, "file_a", ["c1 kept"], emb)
    assert len(await _vector_rows(engine, 24)) == 4
    await store.delete_file(vs, "file_a")
    assert [s for _, s in await _vector_rows(engine, 24)] == [vs, vs2]
    await _add(store, vs, "file_b", ["c3 b again"], emb)  # re-ingestion replaces the vectors
    assert len(await _vector_rows(engine, 24)) == 2
    assert [h["text"] for h in await _search(engine, emb, [vs], "q2 zzzz")] == ["c3 b again"]
    await store.delete_file_everywhere("file_a")
    assert [s for _, s in await _vector_rows(engine, 24)] == [vs]
    await store.delete(vs)
    assert await _vector_rows(engine, 24) == []
    assert await _search(engine, emb, [vs], "q3 zzzz") == []


async def _upgrade(engine, revision: str) -> None:
    from alembic import command

    def run(conn: sa.Connection) -> None:
        cfg = _alembic_config(str(engine.url))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_migration_moves_existing_vectors_into_the_index(tmp_path: Path, kind: str):
    emb = AxisEmbedder(32)

    async def check(url: str) -> None:
        eng = make_engine(url)
        try:
            await _upgrade(eng, "0009")  # the schema before 0010: vectors as blobs in the chunk rows
            async with eng.begin() as conn:
                await conn.execute(
                    sa.text(
                        "INSERT INTO vector_store_chunks (vector_store_id, file_id, position, text, embedding, embedding_model) "
                        "VALUES ('vs_old', 'file_old', :p, :t, :e, :m)"
                    ),
                    [{"p": i, "t": t, "e": emb.vector(t).tobytes(), "m": emb.name} for i, t in enumerate(["c7 old", "c8 older"])],
                )
            await _upgrade(eng, "head")
            hits = await _search(eng, emb, ["vs_old"], "q7 zzzz")
            assert [h["text"] for h in hits][:1] == ["c7 old"] and hits[0]["score"] == pytest.approx(1.0, abs=0.01)
            assert [r[1] for r in await _vector_rows(eng, 32)] == ["vs_old", "vs_old"]
            async with eng.connect() as conn:
                blobs = (await conn.execute(sa.text("SELECT count(*) FROM vector_store_chunks WHERE embedding IS NOT NULL"))).scalar()
            assert blobs == (2 if kind == "sqlite" else 0)  # PostgreSQL moved them into pgvector
            # and a new vector of the same dimension joins them
            store = VectorStoreStore(eng)
            await _add(store, "vs_old", "file_new", ["c9 new"], emb)
            assert [h["text"] for h in await _search(eng, emb, ["vs_old"], "q9 zzzz")][:1] == ["c9 new"]
        finally:
            await eng.dispose()

    if kind == "sqlite":
        await check(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        with new_pg_database("onward_vectors_mig") as url:
            await check(url)
