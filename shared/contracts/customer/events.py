"""The events customer publishes on customer.events, owned by the customer service, keyed by contact or
account id. They carry names and links, never e-mail or phone: whoever needs those reads the customer's
read API, which checks the caller (analysts' topics carry no contact details)."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.customer.common import ACCOUNT, CONTACT
from shared.contracts.envelope import Event


class CustomerEvent(Event):
    KEY: ClassVar[str] = "contact_id"


class ContactChanged(CustomerEvent):
    """A contact was created or edited."""
    TYPE: ClassVar[str] = "customer.ContactChanged"
    contact_id: str = CONTACT
    version: int = Field(description="Its version after the change (1: created).")
    full_name: str = Field(description="Its name now.")
    account_id: str | None = Field(description="Its company now.")
    changed: list[str] = Field(description="The fields that changed (all set fields when created).")
    at: datetime = Field(description="When (UTC).")


class AccountChanged(CustomerEvent):
    """An account was created or edited."""
    TYPE: ClassVar[str] = "customer.AccountChanged"
    KEY: ClassVar[str] = "account_id"
    account_id: str = ACCOUNT
    version: int = Field(description="Its version after the change (1: created).")
    name: str = Field(description="Its name now.")
    primary_contact_id: str | None = Field(description="Its primary contact now.")
    changed: list[str] = Field(description="The fields that changed (all set fields when created).")
    at: datetime = Field(description="When (UTC).")


class LineUserChanged(CustomerEvent):
    """A user's row on a support line changed (it wrote, was connected, its status or open appeals changed):
    open lists update the row live."""
    TYPE: ClassVar[str] = "customer.LineUserChanged"
    KEY: ClassVar[str] = "customer_id"
    customer_id: str = Field(description="The user (chat's customer id).")
    line_id: str = Field(description="The support line (queue id).")
    name: str = Field(description="How it is listed.")
    status: Literal["online", "away", "offline"] = Field(description="Online in the widget, away, offline.")
    last_message_at: datetime | None = Field(description="Its last message on this line (None: none yet).")
    preview: str = Field(description="The last message, shortened (masked by chat).")
    open_with: list[str] = Field(description="Agents it has an open appeal with.")
    company: str | None = Field(None, description="The linked contact's company (the account's name, or the "
                                                  "contact's position when it has none; U5).")
    at: datetime = Field(description="When (UTC).")


class AgentTiesChanged(CustomerEvent):
    """An agent added or removed a user from its list, or made it a favourite or not."""
    TYPE: ClassVar[str] = "customer.AgentTiesChanged"
    KEY: ClassVar[str] = "customer_id"
    customer_id: str = Field(description="The user (chat's customer id).")
    agent_id: str = Field(description="The agent.")
    added: bool = Field(description="On the agent's own list now.")
    favourite: bool = Field(description="A favourite of the agent now.")
    at: datetime = Field(description="When (UTC).")


class CustomerLinked(CustomerEvent):
    """A chat customer was linked to a contact or an account (U5): views, cases and chat's customer name follow.
    Names only, never e-mail or phone."""
    TYPE: ClassVar[str] = "customer.CustomerLinked"
    KEY: ClassVar[str] = "customer_id"
    customer_id: str = Field(description="The chat customer (a signed-in user id or visitor-N).")
    conversation_id: str = Field(description="The conversation it was linked from.")
    contact_id: str | None = Field(description="The contact it is linked to (None: linked to an account only).")
    account_id: str | None = Field(description="Its company: the account linked, or the contact's account.")
    name: str | None = Field(description="The contact's display name (None: linked to an account only).")
    company: str | None = Field(description="The account's name, or the contact's position when it has none.")
    created: bool = Field(False, description="The contact was created from the conversation.")
    replaced_contact_id: str | None = Field(None, description="The contact it was linked to before (relinked).")
    replaced_account_id: str | None = Field(None, description="The account it was linked to before (relinked).")
    at: datetime = Field(description="When (UTC).")


class ContactErased(CustomerEvent):
    """A contact was erased on request (EraseContact): every service erases what it holds about these ids and
    keeps only the record that it did. Ids only, no personal data."""
    TYPE: ClassVar[str] = "customer.ContactErased"
    contact_id: str = CONTACT
    customer_ids: list[str] = Field(description="Chat's customer ids that were linked to the contact.")
    counts: dict[str, int] = Field(description="What customer deleted, by count: contacts, links, line_rows, "
                                               "line_conversations, agent_ties.")
    erased_by: str | None = Field(description="Who asked (a staff user id).")
    repeated: bool = Field(False, description="The contact was erased before; this request changed nothing here.")
    at: datetime = Field(description="When (UTC).")


EVENTS: tuple[type[CustomerEvent], ...] = tuple(CustomerEvent.__subclasses__())
