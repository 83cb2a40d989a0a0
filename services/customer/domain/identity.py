"""Linking a chat customer to a contact or an account (U5), pure: what a link command may name, what a linked
customer is shown as (the contact's name; its company: the account's name, or the contact's position when it
has no account, as for the tenant's own staff), and which records a link depends on, so an edit of one of them
reaches every customer linked through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.customer.domain.profiles import Account, Contact
from shared.contracts.answers import Rejected

Ref = tuple[str, str]  # (kind, record id): ("contact", "k1"), ("account", "a1")


@dataclass
class Identity:
    """One chat customer as the customer service knows it: the lines it is on, what it is linked to and what
    that shows (kept, so a rename finds every customer whose rows show the old name)."""
    customer_id: str
    lines: list[str] = field(default_factory=list)
    contact_id: str | None = None
    account_id: str | None = None  # linked to an account directly (no contact)
    company_account_id: str | None = None  # the account whose name is its company (direct, or the contact's)
    name: str | None = None
    company: str | None = None
    version: int = 0

    @property
    def link(self) -> tuple[str | None, str | None]:
        return self.contact_id, self.account_id

    def refs(self) -> set[Ref]:
        """The records whose edits change what this customer shows."""
        found: set[Ref] = set()
        if self.contact_id:
            found.add(("contact", self.contact_id))
        if self.company_account_id:
            found.add(("account", self.company_account_id))
        return found

    def show(self, contact: Contact | None, account: Account | None) -> None:
        """Take the name and company of the records linked now."""
        self.company_account_id = account.id if account else None
        self.name = contact.fields.full_name if contact else None
        self.company = account.fields.name if account else (contact.fields.position if contact else None)


def link_target(*, contact_id: str | None, account_id: str | None, create: Any) -> str:
    """What a LinkCustomer names: "create" (a new contact, whose id is contact_id), "contact" or "account"."""
    if create is not None:
        if account_id is not None:
            raise Rejected("invalid_argument", "create: the new contact's company goes in its own account_id")
        if contact_id is None:
            raise Rejected("invalid_argument", "create: the new contact needs an id (contact_id)")
        return "create"
    if (contact_id is None) == (account_id is None):
        raise Rejected("invalid_argument", "link to exactly one of: contact_id, account_id, create")
    return "contact" if contact_id is not None else "account"
