"""Masking where text enters chat (C4): before a command's use case runs, the free text it carries (message
texts, the customer's name and e-mail, context values, notes, survey comments) is replaced by its masked
form under the tenant's policy, so everything the use case stores and publishes (events, routing's
preview and customer name, and from them the gateway's views and frames) holds masked text only. The
originals are kept beside, in the same transaction, only where masking changed something.

Also the use case of ConfigureMasking (registered into use_cases.py's USE_CASES from MASKING_USE_CASES)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from phonenumbers import SUPPORTED_REGIONS

from services.chat.context import UseCaseContext
from services.chat.domain.access import check_admin
from services.chat.domain.masking import Masker, MaskingPolicy
from services.chat.domain.pii import DEFAULT_PHONE_REGIONS, KINDS
from shared.contracts import chat as c
from shared.contracts.answers import Rejected
from shared.contracts.chat.common import Context, Customer
from shared.contracts.envelope import Message

# Which fields of which command carry free text from people (by TYPE, so a command added later only needs
# a line here). The business's own set-up (queue settings, reasons, quick replies) is not masked.
MASKED_FIELDS: dict[str, tuple[str, ...]] = {
    "chat.StartConversation": ("first_message", "customer", "context", "topic"),
    "chat.SendMessage": ("text",),
    "chat.LeaveOfflineMessage": ("text", "customer", "context"),
    "chat.WrapUp": ("note",),
    "chat.SubmitSurvey": ("comment",),
}
MESSAGE_TEXT = {"chat.StartConversation": "first_message", "chat.SendMessage": "text",
                "chat.LeaveOfflineMessage": "text"}
CONVERSATION_FIELDS = {"customer", "context", "note", "comment", "topic"}


def mask_customer(masker: Masker, customer: Customer) -> Customer:
    """The name (a name that is a phone number is masked too) and the e-mail."""
    return customer.model_copy(update={"name": masker.text(customer.name),
                                       "email": masker.text(customer.email) if customer.email else customer.email})


def mask_context(masker: Masker, context: Context) -> Context:
    """Pre-chat answers, variables, visitor fields and trail titles (keys and kinds are the business's)."""
    visitor = context.visitor.model_copy(update={
        name: masker.text(value) for name, value in context.visitor.model_dump().items() if isinstance(value, str)})
    return context.model_copy(update={
        "prechat": {k: masker.text(v) for k, v in context.prechat.items()},
        "variables": {k: masker.text(v) for k, v in context.variables.items()},
        "visitor": visitor,
        "trail": [step.model_copy(update={"title": masker.text(step.title)}) for step in context.trail]})


def _mask_value(masker: Masker, value: Any) -> Any:
    if isinstance(value, Customer):
        return mask_customer(masker, value)
    if isinstance(value, Context):
        return mask_context(masker, value)
    if isinstance(value, str):
        return masker.text(value)
    return value


@dataclass
class Entering:
    """A command as the use case gets it (masked) and the originals of the fields masking changed."""
    command: Message
    originals: dict[str, Any] = field(default_factory=dict)


def mask_command(masker: Masker, command: Message) -> Entering:
    fields = MASKED_FIELDS.get(command.TYPE, ())
    changed: dict[str, Any] = {}
    originals: dict[str, Any] = {}
    for name in fields:
        value = getattr(command, name, None)
        if value is None:
            continue
        masked = _mask_value(masker, value)
        if masked != value:
            changed[name], originals[name] = masked, value
    return Entering(command.model_copy(update=changed) if changed else command, originals)


async def masked_on_entry(ctx: UseCaseContext, command: Message) -> Entering:
    """The command masked by the tenant's policy (commands without free text pass as they are)."""
    if command.TYPE not in MASKED_FIELDS:
        return Entering(command)
    return mask_command(Masker(await ctx.repos.masking.policy()), command)


async def keep_originals(ctx: UseCaseContext, entering: Entering) -> None:
    """After the use case: the original text of the message it posted, and the conversation's originals."""
    if not entering.originals:
        return
    command = entering.command
    text_field = MESSAGE_TEXT.get(command.TYPE)
    if text_field in entering.originals:
        masked_text = getattr(command, text_field)
        for event in ctx.outcome:
            if isinstance(event, c.MessagePosted) and event.text == masked_text:
                await ctx.repos.masking.keep_message_original(
                    conversation_id=event.conversation_id, message_id=event.message_id,
                    text=entering.originals[text_field])
                break
    kept = {name: _plain(value, command) for name, value in entering.originals.items() if name in CONVERSATION_FIELDS}
    if kept:
        await ctx.repos.masking.keep_conversation_originals(conversation_id=command.conversation_id,  # type: ignore[attr-defined]
                                                            fields=kept)


def _plain(value: Any, command: Message) -> Any:
    """A field's original as stored (the context's trail newest first, as the conversation keeps it)."""
    if isinstance(value, Context):
        value = value.model_copy(update={"trail": sorted(value.trail, key=lambda s: s.at, reverse=True)})
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


# --- the policy ------------------------------------------------------------------------------------------

async def configure_masking(ctx: UseCaseContext, cmd: c.ConfigureMasking) -> str:
    """Replace the tenant's masking policy (admin); it applies to what enters from now on."""
    check_admin(ctx.actor, action="configure masking")
    regions = tuple(cmd.phone_regions) if cmd.phone_regions is not None else DEFAULT_PHONE_REGIONS
    unknown = sorted(set(regions) - SUPPORTED_REGIONS)
    if unknown:
        raise Rejected("invalid_argument", f"unknown phone regions {unknown} (ISO 3166 alpha-2, e.g. LV, GB)")
    policy = MaskingPolicy(card=cmd.card, iban=cmd.iban, ssn=cmd.ssn, email=cmd.email, phone=cmd.phone,
                           originals_roles=frozenset(cmd.originals_roles), phone_regions=regions, configured=True)
    await ctx.repos.masking.save_policy(policy)
    ctx.outcome.append(c.MaskingConfigured(policy_id=cmd.policy_id, kinds=[k for k in KINDS if k in policy.kinds],
                                           originals_roles=sorted(policy.originals_roles),
                                           phone_regions=list(regions)))
    return cmd.policy_id


MASKING_USE_CASES: dict[type[Message], Callable[[UseCaseContext, Any], Awaitable[str | None]]] = {
    c.ConfigureMasking: configure_masking,
}
