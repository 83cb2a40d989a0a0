"""Customer's contract: commands (what it accepts), events (what it publishes), reads (its read API's
answers). Only the customer service changes this package."""

from shared.contracts.customer.commands import *  # noqa: F403
from shared.contracts.customer.commands import COMMANDS, CustomerCommand
from shared.contracts.customer.common import AccountFields, ContactFields
from shared.contracts.customer.events import *  # noqa: F403
from shared.contracts.customer.events import EVENTS, CustomerEvent

__all__ = ["COMMANDS", "EVENTS", "CustomerCommand", "CustomerEvent", "ContactFields", "AccountFields",
           *(c.__name__ for c in COMMANDS), *(e.__name__ for e in EVENTS)]
