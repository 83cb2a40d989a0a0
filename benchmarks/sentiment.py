"""Benchmark: the sentiment model (C5) on the labelled set (tests/data/sentiment/, committed before tuning).

    .venv/bin/python -m benchmarks.sentiment [--threads 1] [--threshold slightly_negative] [--repeat 1]

Scores every labelled customer message with chat's own adapter (services/chat/adapters/sentiment_model.py,
in process, one message at a time as the consumer does) and prints: the model's load time; per-message
latency (p50, p99, max) over all messages; per language and level how many messages got exactly their level
and how many within one level; the confusion of levels; and, at the alert threshold, the precision and recall
of the alert (a message alerts when its level is at or below the threshold, and should when its label is).
Figures, not a test. Per-message alerts are what the set can label; the conversation's level averages them
(domain/sentiment.py)."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from benchmarks.broker_hop import pct
from services.chat.adapters.sentiment_model import SentimentModel
from services.chat.domain.sentiment import DEFAULT_THRESHOLD, LEVELS, alerts, level_of, rank

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "sentiment"


def load() -> list[tuple[str, str, str]]:
    """(language, level, text) of every labelled message."""
    rows = []
    for path in sorted(DATA.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                level, text = line.split("\t", 1)
                assert level in LEVELS, f"{path.name}: unknown level {level!r}"
                rows.append((path.stem, level, text))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="the engine's OpenMP threads (chat's default: 1)")
    parser.add_argument("--threshold", choices=LEVELS, default=DEFAULT_THRESHOLD)
    parser.add_argument("--repeat", type=int, default=1, help="score the set this many times (latency only)")
    args = parser.parse_args()
    rows = load()
    model = SentimentModel(threads=args.threads)
    start = time.perf_counter()
    model.warm()
    print(f"model loaded and example sentences embedded in {time.perf_counter() - start:.2f} s "
          f"(threads={args.threads})")
    latencies, predicted = [], []
    for round_ in range(args.repeat):
        for _, _, text in rows:
            t0 = time.perf_counter()
            score = model.score_now(text)
            latencies.append((time.perf_counter() - t0) * 1000)
            if round_ == 0:
                predicted.append(level_of(score))
    print(f"per message ({len(latencies)} scored): p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms, "
          f"max {max(latencies):.1f} ms")
    for language in sorted({lang for lang, _, _ in rows}):
        print(f"\n{language}: level: exact / within one level (of n)")
        exact, near, n = Counter(), Counter(), Counter()
        confusion: Counter[tuple[str, str]] = Counter()
        for (lang, truth, _), got in zip(rows, predicted):
            if lang != language:
                continue
            n[truth] += 1
            exact[truth] += got == truth
            near[truth] += abs(rank(got) - rank(truth)) <= 1
            confusion[truth, got] += 1
        for level in LEVELS:
            print(f"  {level:18} {exact[level]:3} / {near[level]:3}  (of {n[level]})")
        total = sum(n.values())
        print(f"  {'all':18} {sum(exact.values()) / total:.0%} exact, {sum(near.values()) / total:.0%} within one")
        print("  confusion (rows: label, columns: predicted " + " ".join(f"{rank(lv):+d}" for lv in LEVELS) + ")")
        for truth in LEVELS:
            print(f"  {truth:18} " + " ".join(f"{confusion[truth, got]:2}" for got in LEVELS))
        tp = sum(1 for (lang, t, _), g in zip(rows, predicted)
                 if lang == language and alerts(g, args.threshold) and alerts(t, args.threshold))
        fp = sum(1 for (lang, t, _), g in zip(rows, predicted)
                 if lang == language and alerts(g, args.threshold) and not alerts(t, args.threshold))
        fn = sum(1 for (lang, t, _), g in zip(rows, predicted)
                 if lang == language and not alerts(g, args.threshold) and alerts(t, args.threshold))
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        print(f"  alert at or below {args.threshold}: precision {precision:.2f}, recall {recall:.2f} "
              f"(tp {tp}, fp {fp}, fn {fn})")


if __name__ == "__main__":
    main()
