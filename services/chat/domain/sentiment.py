"""The customer's sentiment (C5), pure rules: the seven-level scale, a message's level from its score, the
conversation's level over its last customer messages, and when it alerts (at or below the tenant's threshold).

A score is a number in [-1, 1] (the model adapter's output: -1 very negative, 0 neutral, 1 very positive); the
levels cut that range into seven equal bands, so a level is the score rounded to the nearest third."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Level = Literal["very_negative", "negative", "slightly_negative", "neutral", "slightly_positive", "positive",
                "very_positive"]
LEVELS: tuple[Level, ...] = get_args(Level)
DEFAULT_THRESHOLD: Level = "slightly_negative"
DEFAULT_WINDOW = 5  # the conversation's level is over its last 5 customer messages


def rank(level: Level) -> int:
    """-3 (very negative) .. 3 (very positive)."""
    return LEVELS.index(level) - 3


def level_of(score: float) -> Level:
    """The level of a score in [-1, 1] (outside is clamped): seven equal bands, neutral in the middle."""
    clamped = max(-1.0, min(1.0, score))
    return LEVELS[round(clamped * 3) + 3]


def conversation_score(scores: Sequence[float], window: int = DEFAULT_WINDOW) -> float:
    """The conversation's score over its last `window` customer message scores (oldest first): a mean weighted
    by recency (the newest counts `window` times the oldest it keeps), so a customer who turns angry is seen
    after a message or two, and one calmer message after a string of angry ones does not clear it at once."""
    last = list(scores)[-window:]
    if not last:
        return 0.0
    weights = range(1, len(last) + 1)
    return sum(w * s for w, s in zip(weights, last)) / sum(weights)


def alerts(level: Level, threshold: Level) -> bool:
    """The conversation's level is at or below the tenant's threshold."""
    return rank(level) <= rank(threshold)


@dataclass
class ConversationMood:
    """What chat keeps per conversation for sentiment: its last customer message scores (oldest first) and the
    ids of the messages they came from (a redelivered message is not counted twice)."""
    conversation_id: str
    scores: list[float]
    message_ids: list[str]

    def add(self, message_id: str, score: float, window: int = DEFAULT_WINDOW) -> bool:
        """Count one customer message; False if it was counted already."""
        if message_id in self.message_ids:
            return False
        self.scores = [*self.scores, score][-window:]
        self.message_ids = [*self.message_ids, message_id][-window:]
        return True

    def level(self, window: int = DEFAULT_WINDOW) -> Level:
        return level_of(conversation_score(self.scores, window))
