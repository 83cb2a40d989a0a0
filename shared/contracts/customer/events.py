"""The events customer publishes on customer.events, owned by the customer service, keyed by contact or
account id. They carry names and links, never e-mail or phone: whoever needs those reads the customer's
read API, which checks the caller (analysts' topics carry no contact details)."""

from datetime import datetime
from typing import ClassVar

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


EVENTS: tuple[type[CustomerEvent], ...] = tuple(CustomerEvent.__subclasses__())
