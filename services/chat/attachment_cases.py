"""Chat's attachment use cases (C9), registered in use_cases.USE_CASES (ATTACHMENT_USE_CASES): the tenant's
limits (admin), and
attaching uploaded files to a message being sent (called by send_message). Uploading stores bytes only and
changes no conversation: it is an HTTP call (entrypoints/attachments_http.py), not a command."""

from __future__ import annotations

from services.chat.context import UseCaseContext
from services.chat.domain.access import check_admin
from services.chat.domain.attachments import AttachmentPolicy, attachment_ids_unique
from shared.contracts import chat as c
from shared.contracts.answers import Rejected
from shared.contracts.chat.attachments import AttachmentInfo
from shared.contracts.chat.common import Sender


async def configure_attachments(ctx: UseCaseContext, cmd: c.ConfigureAttachments) -> str:
    """Replace the tenant's attachment limits (admin)."""
    check_admin(ctx.actor, action="configure attachments")
    types = tuple(dict.fromkeys(cmd.allowed_types))
    await ctx.repos.attachments.save_policy(AttachmentPolicy(max_bytes=cmd.max_bytes, allowed_types=types,
                                                             configured=True))
    ctx.outcome.append(c.AttachmentsConfigured(max_bytes=cmd.max_bytes, allowed_types=list(types)))
    return cmd.setting_id


async def attach_files(ctx: UseCaseContext, *, conversation_id: str, attachment_ids: list[str], sender: Sender,
                       message_id: str, private: bool) -> tuple[AttachmentInfo, ...]:
    """Attach each named upload to the new message (in the command's transaction, so a refused message
    attaches nothing): each must be the sender's own upload to this conversation, not sent yet."""
    attachment_ids_unique(attachment_ids)
    attached: list[AttachmentInfo] = []
    for attachment_id in attachment_ids:
        found = await ctx.repos.attachments.get(attachment_id)
        if found is None:
            raise Rejected("invalid_argument", f"attachment {attachment_id} was not uploaded by you to "
                                               f"conversation {conversation_id} (or was deleted unsent)")
        now_attached = found.attached_to(conversation_id=conversation_id, sender=sender, message_id=message_id,
                                         private=private)
        await ctx.repos.attachments.save_attached(now_attached)
        attached.append(now_attached.info)
    return tuple(attached)


ATTACHMENT_USE_CASES = {c.ConfigureAttachments: configure_attachments}
