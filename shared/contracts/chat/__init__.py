"""Chat's contract: commands (`commands.py`, what it accepts) and events (`events.py`, what it publishes).

Only the chat service changes this package. Both modules' names are re-exported here."""

from shared.contracts.chat.commands import *  # noqa: F403
from shared.contracts.chat.commands import COMMANDS, ChatCommand
from shared.contracts.chat.common import *  # noqa: F403
from shared.contracts.chat.events import *  # noqa: F403
from shared.contracts.chat.events import EVENTS, ChatEvent

__all__ = ["COMMANDS", "EVENTS", "ChatCommand", "ChatEvent", "Context", "Customer", "Sender", "TrailStep",
           "Visitor", "WrapUpReason", "ConversationState", "SenderKind", "MAX_AGENT_TEXT", "MAX_CUSTOMER_TEXT",
           *(c.__name__ for c in COMMANDS), *(e.__name__ for e in EVENTS)]
