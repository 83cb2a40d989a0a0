"""Field types customer's commands, events and reads share: a contact's and an account's editable fields."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.envelope import Identifier

CONTACT = Field(description="Contact id (unique in the tenant).", examples=["contact-42"])
ACCOUNT = Field(description="Account (company) id (unique in the tenant).", examples=["account-7"])
VERSION = Field(ge=1, description="The version the editor read: a stale one is refused (version_conflict, 409), "
                                  "so an inline edit never overwrites a change it did not see.")


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactFields(_Part):
    """A contact's editable fields (U1). E-mail and phone are checked and normalised (E.164) by the service."""
    full_name: str | None = Field(None, min_length=1, max_length=200, description="Full name.")
    login_id: str | None = Field(None, min_length=1, max_length=128,
                                 description="The user's login on the tenant's site (unique in the tenant).")
    email: str | None = Field(None, max_length=320, description="E-mail address (unique in the tenant).")
    phone: str | None = Field(None, max_length=40, description="Phone number, international (+371 ...) or "
                                                               "national with `region`; stored as E.164.")
    position: str | None = Field(None, max_length=200, description="Job title.")
    department: str | None = Field(None, max_length=200)
    region: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 country code, e.g. LV; also "
                                                                        "the phone's region when it has no +.")
    birthday: date | None = None
    avatar_url: str | None = Field(None, max_length=2000, pattern=r"^https://", description="An https image URL.")
    account_id: Identifier | None = Field(None, description="The contact's company (an existing account).")


ContactField = Literal["full_name", "login_id", "email", "phone", "position", "department", "region", "birthday",
                       "avatar_url", "account_id"]


class AccountFields(_Part):
    """An account's (company's) editable fields (U1)."""
    name: str | None = Field(None, min_length=1, max_length=200, description="Company name.")
    tax_id: str | None = Field(None, max_length=40, description="Tax id (INN, VAT number...), checked by its "
                                                                "checksum for `country` where one exists.")
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 country of the tax id.")
    registration_number: str | None = Field(None, max_length=64)
    contract: str | None = Field(None, max_length=200, description="Support contract (number or name).")
    support_parameters: dict[str, str] | None = Field(None, max_length=50,
                                                      description="Support parameters: name -> value.")
    primary_contact_id: Identifier | None = Field(None, description="An existing contact of this tenant.")
    responsible_staff: list[Identifier] | None = Field(None, max_length=50,
                                                       description="Staff user ids responsible for the account.")


AccountField = Literal["name", "tax_id", "country", "registration_number", "contract", "support_parameters",
                       "primary_contact_id", "responsible_staff"]
