"""Benchmark: top-3 hit rate of the knowledge base's retrieval (K4) on the labelled set, for each method: the text
index alone, the embedding model alone, and both fused.

    .venv/bin/python -m benchmarks.knowledge_hit_rate [--articles 2000] [--language given|guess]
        [--mongo-url URL] [--candidates 30] [--weight-text W] [--weight-vector W]

A fresh mongod (or --mongo-url) gets the 2,000 articles of tests/data/knowledge (74 written ones that the 130
questions are about, and generated distractors), written with the service's own code: the domain's Article,
the embedding adapter (passages in batches) and adapters/articles.py's document and indexes; then every question
is asked through the service's Retriever, as the suggestions consumer and the hints do. A question is a hit when
one of its labelled articles is in the top 3. `--language given`: the question's language is known (the
visitor's, as the widget reports it); `guess`: only the message. Embeddings of the corpus are cached in
.local/cache (keyed by the texts), so a rerun takes seconds. Figures, not a test; target top-3 >= 0.8."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pymongo import AsyncMongoClient

from benchmarks.broker_hop import pct
from services.cases.adapters.articles import ARTICLES, REVISIONS, article_doc, ensure_knowledge_indexes
from services.cases.adapters.embeddings import Embedder
from services.cases.adapters.retrieval import Retriever
from services.cases.domain.knowledge import FUSION_WEIGHTS, Article
from shared.localstack.processes import LocalMongo, free_port
from tests.data.knowledge.corpus import articles, questions

TENANT = "bench"
CACHE = Path(".local/cache")
METHODS = ("text", "vector", "combined")


async def corpus_embeddings(embedder: Embedder, texts: list[str]) -> np.ndarray:
    key = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
    cached = CACHE / f"knowledge-embeddings-{key}.npy"
    if cached.exists():
        return np.load(cached)
    start = time.monotonic()
    rows = []
    for n in range(0, len(texts), 32):
        rows.append(await embedder.passages(texts[n:n + 32]))
        print(f"\r  embedded {min(n + 32, len(texts))}/{len(texts)}", end="", flush=True)
    matrix = np.vstack(rows)
    print(f"  ({time.monotonic() - start:.0f} s, {embedder.threads} threads)")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, matrix)
    return matrix


async def seed(db: Any, embedder: Embedder, count: int) -> None:
    now = datetime.now(UTC)
    corpus = [Article.create(a["id"], title=a["title"], body=a["body"], tags=a["tags"], language=a["language"],
                             status="published", by="bench", now=now)[0] for a in articles(count)]
    texts = await corpus_embeddings(embedder, [a.embedded_text for a in corpus])
    titles = await corpus_embeddings(embedder, [a.title for a in corpus])
    await ensure_knowledge_indexes(db)
    await db[ARTICLES].delete_many({"tenant_id": TENANT})
    await db[ARTICLES].insert_many([article_doc(TENANT, a, texts[n], titles[n], n + 1) for n, a in enumerate(corpus)])
    await db[REVISIONS].replace_one({"_id": TENANT}, {"_id": TENANT, "tenant_id": TENANT, "revision": len(corpus),
                                                      "version": len(corpus)}, upsert=True)


async def evaluate(retriever: Retriever, language_known: bool) -> None:
    asked = questions()
    await retriever.vectors(TENANT)  # the cache filled once, as a running service has it
    for q in asked[:5]:
        await retriever.embedder.query(q["q"])  # the first calls pay for warming up
    hits: dict[str, dict[str, list[int]]] = {m: defaultdict(list) for m in METHODS}
    took: dict[str, list[float]] = defaultdict(list)
    misses: dict[str, list[str]] = defaultdict(list)
    for q in asked:
        for method in METHODS:
            retriever.embedder._cache.clear()  # every method pays for embedding the question
            start = time.perf_counter()
            found = await retriever.search(TENANT, q["q"], language=q["lang"] if language_known else None,
                                           method=method, limit=3)
            took[method].append(time.perf_counter() - start)
            ids = [h.article_id for h in found]
            rank = next((n for n, a in enumerate(ids, 1) if a in q["answers"]), 0)
            hits[method][q["lang"]].append(rank)
            if not rank and method == "combined":
                misses[q["lang"]].append(f"{q['q']!r} -> {ids} (wanted {q['answers']})")
    languages = sorted({q["lang"] for q in asked}, key=lambda lang: (lang != "en", lang))
    counts = ", ".join(f"{lang} {len(hits['text'][lang])}" for lang in languages)
    print(f"\n{len(asked)} questions ({counts}), language {'given' if language_known else 'guessed'}")
    header = "".join(f"{lang:>7s}" for lang in languages)
    print(f"{'method':>9s}  {'top-1':>6s} {'top-3':>6s}   top-3 by language:{header}   search p50/p99")
    for method in METHODS:
        ranks = [r for lang in languages for r in hits[method][lang]]
        by_lang = "".join(f"{sum(1 for r in hits[method][lang] if r) / len(hits[method][lang]):7.2f}"
                          for lang in languages)
        print(f"{method:>9s}  {sum(r == 1 for r in ranks) / len(ranks):6.3f} {sum(r > 0 for r in ranks) / len(ranks):6.3f}"
              f"   {'':18s}{by_lang}   {pct(took[method], 50) * 1e3:5.1f}/{pct(took[method], 99) * 1e3:5.1f} ms")
    print("\ncombined misses:")
    for lang in languages:
        for line in misses[lang]:
            print(f"  [{lang}] {line}")


async def main(args: argparse.Namespace) -> None:
    workdir = None
    mongo = None
    url = args.mongo_url
    if url is None:
        workdir = Path(tempfile.mkdtemp(prefix="bench-kb-"))
        mongo = LocalMongo(workdir / "mongo", free_port())
        mongo.start()
        url = mongo.url
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    try:
        db = client[f"kb-bench-{int(time.time())}"]
        embedder = Embedder(threads=args.seed_threads)
        start = time.monotonic()
        await seed(db, embedder, args.articles)
        print(f"seeded {args.articles} articles in {time.monotonic() - start:.1f} s")
        weights = (None if args.weight_text is None and args.weight_vector is None else
                   {"text": FUSION_WEIGHTS["text"] if args.weight_text is None else args.weight_text,
                    "vector": FUSION_WEIGHTS["vector"] if args.weight_vector is None else args.weight_vector})
        retriever = Retriever(db, Embedder(threads=1), candidates=args.candidates, weights=weights)
        await evaluate(retriever, args.language == "given")
        await client.drop_database(db.name)
    finally:
        await client.close()
        if mongo is not None:
            mongo.stop()
            shutil.rmtree(workdir, ignore_errors=True)  # type: ignore[arg-type]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--language", choices=("given", "guess"), default="given")
    parser.add_argument("--mongo-url", default=None)
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--weight-text", type=float, default=None, help="fusion weight (default: the service's)")
    parser.add_argument("--weight-vector", type=float, default=None, help="fusion weight (default: the service's)")
    parser.add_argument("--seed-threads", type=int, default=2, help="embedding threads for seeding the corpus")
    asyncio.run(main(parser.parse_args()))
