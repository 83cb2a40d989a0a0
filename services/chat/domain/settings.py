"""Chat settings: per queue (wrap-up reason required, persistent chat) and the tenant's wrap-up reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.chat.domain.hours import is_open, next_opening
from shared.contracts.answers import Rejected
from shared.contracts.chat.common import OperatingHours, WrapUpReason


@dataclass
class QueueChatSettings:
    """A queue's chat settings; a queue nobody configured has the defaults (no reason needed, not persistent)."""

    queue_id: str
    wrap_up_required: bool = False
    persistent: bool = False
    configured: bool = False
    operating_hours: OperatingHours | None = None  # None: always open
    offline_messages: bool = True


def check_reason_list(reasons: Sequence[WrapUpReason]) -> None:
    codes = [r.code for r in reasons]
    if duplicates := sorted({c for c in codes if codes.count(c) > 1}):
        raise Rejected("invalid_argument", f"wrap-up reason codes appear twice: {', '.join(duplicates)}")


def check_wrap_up_reason(reason_code: str | None, *, settings: QueueChatSettings,
                         reasons: Sequence[WrapUpReason]) -> None:
    """A reason, when given, is one of the tenant's; the queue's settings may require one."""
    if reason_code is None:
        if settings.wrap_up_required:
            raise Rejected("reason_required", f"queue {settings.queue_id} needs a wrap-up reason to close")
        return
    if reason_code not in {r.code for r in reasons}:
        raise Rejected("unknown_reason", f"{reason_code} is not one of the tenant's wrap-up reasons")


def check_open(settings: QueueChatSettings, now: datetime) -> None:
    """A customer starts a chat only inside the queue's operating hours."""
    if is_open(settings.operating_hours, now):
        return
    opens = next_opening(settings.operating_hours, now)
    when = f"; it opens {opens.strftime('%a %Y-%m-%d %H:%M')} ({opens.tzinfo})" if opens else ""
    offline = "; leave an offline message instead" if settings.offline_messages else ""
    raise Rejected("closed", f"queue {settings.queue_id} is outside its operating hours{when}{offline}")
