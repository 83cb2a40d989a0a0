"""What keeps sensitive data out of chat's dead letters and logs (C4): its masker with every kind on (a broken
record's tenant, and so its policy, may be unknown), as the consumer's redact hook and as a log processor
for every structlog line and every stdlib logging line of the process."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from services.chat.domain.masking import EVERYTHING, Masker

EVERY_KIND = Masker(EVERYTHING)
_NOT_MASKED = frozenset({"timestamp", "level", "logger"})  # added by the logging set-up itself


def redact(text: str) -> str:
    """A text with every kind of sensitive data masked."""
    return EVERY_KIND.text(text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)  # lists, dicts, exceptions: as they would be rendered
    masked = redact(text)
    return value if masked == text else masked


def mask_log_line(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: every value of the line (the message, bound ids, errors) masked."""
    for key, value in event.items():
        if key not in _NOT_MASKED:
            event[key] = _masked(value)
    return event


class MaskingFilter(logging.Filter):
    """The same for stdlib logging (aiokafka, faststream, uvicorn): the formatted message masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def mask_stdlib_logging() -> None:
    """Put MaskingFilter on the root logger's handlers (configured by shared.logging)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
