"""Contacts and accounts (U1): the two aggregates, each a set of checked fields with a version. An edit
names the version it was made against (inline editing: a stale one is refused, never merged), sets some
fields and clears others; what people typed is normalised (checks.py) before it is compared or stored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from services.customer.domain import checks
from shared.contracts.answers import Rejected
from shared.contracts.customer import events as ev
from shared.contracts.customer.common import AccountFields, ContactFields

F = TypeVar("F", bound=BaseModel)


@dataclass
class Profile(Generic[F]):
    """What contacts and accounts have in common: id, fields, version, times."""
    KIND: ClassVar[str]
    REQUIRED: ClassVar[str]  # the one field that can never be empty

    id: str
    fields: F
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def create(cls, record_id: str, fields: F, *, now: datetime) -> tuple[Any, ev.CustomerEvent]:
        if getattr(fields, cls.REQUIRED) is None:
            raise Rejected("invalid_argument", f"{cls.REQUIRED}: a new {cls.KIND} needs one")
        profile = cls(record_id, cls.normalise(fields), 1, now, now)
        return profile, profile.changed_event(sorted(fields.model_dump(exclude_none=True)))

    def edit(self, *, version: int, changes: F, clear: Sequence[str], now: datetime) -> ev.CustomerEvent | None:
        """Apply an inline edit made against `version`; None when it changes nothing."""
        if version != self.version:
            raise Rejected("version_conflict", f"{self.KIND} {self.id} is at version {self.version}, the edit was "
                                               f"made against version {version}: read it again")
        given = changes.model_dump(exclude_none=True)
        if both := sorted(set(given) & set(clear)):
            raise Rejected("invalid_argument", f"{', '.join(both)}: both set and cleared")
        if self.REQUIRED in clear:
            raise Rejected("invalid_argument", f"{self.REQUIRED}: a {self.KIND} cannot be without one")
        merged = self.fields.model_copy(update={**given, **dict.fromkeys(clear)})
        fields = self.normalise(type(self.fields).model_validate(merged.model_dump()))
        changed = [name for name in type(fields).model_fields if getattr(fields, name) != getattr(self.fields, name)]
        if not changed:
            return None
        self.fields, self.version, self.updated_at = fields, self.version + 1, now
        return self.changed_event(changed)

    @classmethod
    def normalise(cls, fields: F) -> F:
        raise NotImplementedError

    def changed_event(self, changed: list[str]) -> ev.CustomerEvent:
        raise NotImplementedError

    def references(self) -> dict[str, list[str]]:
        """Other records it names, by kind, which must exist: {"account": [...], "contact": [...]}."""
        raise NotImplementedError


def _normalised(fields: F, **checks_by_field: Callable[[Any], Any]) -> F:
    update = {name: check(getattr(fields, name)) for name, check in checks_by_field.items()
              if getattr(fields, name) is not None}
    return fields.model_copy(update=update)


@dataclass
class Contact(Profile[ContactFields]):
    KIND: ClassVar[str] = "contact"
    REQUIRED: ClassVar[str] = "full_name"

    @classmethod
    def normalise(cls, fields: ContactFields) -> ContactFields:
        return _normalised(fields, email=checks.email, phone=lambda p: checks.phone(p, fields.region),
                           full_name=str.strip)

    def changed_event(self, changed: list[str]) -> ev.ContactChanged:
        return ev.ContactChanged(contact_id=self.id, version=self.version, full_name=self.fields.full_name or "",
                                 account_id=self.fields.account_id, changed=changed, at=self.updated_at)

    def references(self) -> dict[str, list[str]]:
        return {"account": [self.fields.account_id] if self.fields.account_id else []}


@dataclass
class Account(Profile[AccountFields]):
    KIND: ClassVar[str] = "account"
    REQUIRED: ClassVar[str] = "name"

    @classmethod
    def normalise(cls, fields: AccountFields) -> AccountFields:
        return _normalised(fields, tax_id=lambda t: checks.tax_id(t, fields.country), name=str.strip)

    def changed_event(self, changed: list[str]) -> ev.AccountChanged:
        return ev.AccountChanged(account_id=self.id, version=self.version, name=self.fields.name or "",
                                 primary_contact_id=self.fields.primary_contact_id, changed=changed,
                                 at=self.updated_at)

    def references(self) -> dict[str, list[str]]:
        return {"contact": [self.fields.primary_contact_id] if self.fields.primary_contact_id else []}


UNIQUE_FIELDS: dict[str, tuple[str, ...]] = {"contact": ("login_id", "email"), "account": ()}
