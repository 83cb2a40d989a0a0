"""The commands customer accepts on customer.commands: its input API, owned by the customer service.

Keyed by the contact or account id; answered on customer.events by the shared CommandAccepted (result_id:
the contact or account id) or CommandRejected."""

from typing import ClassVar

from pydantic import Field

from shared.contracts.customer.common import (
    ACCOUNT,
    CONTACT,
    VERSION,
    AccountField,
    AccountFields,
    ContactField,
    ContactFields,
)
from shared.contracts.envelope import Command, Identifier


class CustomerCommand(Command):
    KEY: ClassVar[str] = "contact_id"


class CreateContact(CustomerCommand):
    """Create a contact (staff); `full_name` is required."""
    TYPE: ClassVar[str] = "customer.CreateContact"
    contact_id: Identifier = CONTACT
    fields: ContactFields = Field(description="Its fields; full_name required.")


class UpdateContact(CustomerCommand):
    """Edit a contact inline: set the given fields, clear the listed ones, if `version` is still current."""
    TYPE: ClassVar[str] = "customer.UpdateContact"
    contact_id: Identifier = CONTACT
    version: int = VERSION
    changes: ContactFields = Field(default_factory=ContactFields, description="Fields to set (others unchanged).")
    clear: list[ContactField] = Field(default_factory=list, description="Fields to empty (not full_name).")


class CreateAccount(CustomerCommand):
    """Create an account (company); `name` is required."""
    TYPE: ClassVar[str] = "customer.CreateAccount"
    KEY: ClassVar[str] = "account_id"
    account_id: Identifier = ACCOUNT
    fields: AccountFields = Field(description="Its fields; name required.")


class UpdateAccount(CustomerCommand):
    """Edit an account inline: set the given fields, clear the listed ones, if `version` is still current."""
    TYPE: ClassVar[str] = "customer.UpdateAccount"
    KEY: ClassVar[str] = "account_id"
    account_id: Identifier = ACCOUNT
    version: int = VERSION
    changes: AccountFields = Field(default_factory=AccountFields, description="Fields to set (others unchanged).")
    clear: list[AccountField] = Field(default_factory=list, description="Fields to empty (not name).")


class ConnectToLine(CustomerCommand):
    """An admin connects a user to a support line (U3), so it is listed there before it ever writes."""
    TYPE: ClassVar[str] = "customer.ConnectToLine"
    KEY: ClassVar[str] = "customer_id"
    customer_id: Identifier = Field(description="The user (chat's customer id: a signed-in user id or visitor-N).")
    line_id: Identifier = Field(description="The support line (the queue id).")
    name: str = Field(min_length=1, max_length=200, description="How the user is listed until it writes.")


class TieToUser(CustomerCommand):
    """An agent adds a user to its own list or removes it, marks it a favourite or not (U2, U3, U4)."""
    TYPE: ClassVar[str] = "customer.TieToUser"
    KEY: ClassVar[str] = "customer_id"
    customer_id: Identifier = Field(description="The user (chat's customer id).")
    added: bool | None = Field(None, description="On the agent's own list (None: unchanged).")
    favourite: bool | None = Field(None, description="A favourite of the agent (None: unchanged).")


class SetRelevanceWindow(CustomerCommand):
    """How far back "worked with" counts in the agent's streaming-mode lists (U3): 7-90 days, default 60."""
    TYPE: ClassVar[str] = "customer.SetRelevanceWindow"
    KEY: ClassVar[str] = "agent_id"
    agent_id: Identifier = Field(description="The agent (the actor itself, or an admin for anyone).")
    days: int = Field(description="7 to 90.")


class LinkCustomer(CustomerCommand):
    """Staff link a chat customer to an existing contact, to an existing account, or to a contact created from the
    conversation in the same transaction (U5). Linking again replaces the link."""
    TYPE: ClassVar[str] = "customer.LinkCustomer"
    KEY: ClassVar[str] = "customer_id"
    customer_id: Identifier = Field(description="The chat customer (a signed-in user id or visitor-N), as the "
                                                "conversation names it.")
    conversation_id: Identifier = Field(description="The conversation it was linked from.")
    contact_id: Identifier | None = Field(None, description="An existing contact; with `create`, the new contact's id.")
    account_id: Identifier | None = Field(None, description="An existing account (instead of a contact).")
    create: ContactFields | None = Field(None, description="Create the contact from the conversation (full_name "
                                                           "required) and link to it.")


class EraseContact(CustomerCommand):
    """Erase a contact on request (admin): the contact, its links to chat's customers, their line rows and agent
    ties go, and ContactErased tells every service to erase what it holds. Erasing an erased contact again is
    accepted and changes nothing; a contact that never existed is not_found."""
    TYPE: ClassVar[str] = "customer.EraseContact"
    contact_id: Identifier = CONTACT


COMMANDS: tuple[type[CustomerCommand], ...] = tuple(CustomerCommand.__subclasses__())
