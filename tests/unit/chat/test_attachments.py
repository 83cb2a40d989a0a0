"""Attachments (C9): names cleaned, declared types checked against the tenant's list and the content's first
bytes, size limits; the attach rules through chat's handlers on fakes (only the sender's own upload to this
conversation, once, and nothing attached when the message is refused); who may download what."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.chat.domain.attachments import (MAX_NAME, Attachment, AttachmentPolicy, Refused, check_content,
                                              clean_name, normalise_type)
from shared.contracts import chat as c
from shared.contracts.chat.common import Sender
from shared.contracts.envelope import Actor
from tests.unit.chat.fakes_attachments import uploaded
from tests.unit.chat.harness import ADMIN, T0, Chat, agent, customer

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
CUSTOMER, AGENT = Sender(kind="customer", id="cu1"), Sender(kind="agent", id="a1")


# --- names, types, content ------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "kept"), [
    ("invoice.pdf", "invoice.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\dana\\Desktop\\scan 1.png", "scan 1.png"),
    ("...hidden.txt", "hidden.txt"),
    (" . .env", "env"),
    ("bad\x00na\x1fme\x7f.txt", "badname.txt"),
    ("photo\u202egnp.exe", "photognp.exe"),  # a right-to-left override would show it as "photoexe.png"
    ("Ångström.txt", "Ångström.txt"),
])
def test_a_name_loses_its_path_control_characters_and_leading_dots(raw, kept):
    assert clean_name(raw) == kept


def test_a_long_name_is_cut_keeping_its_extension():
    name = clean_name("a" * 500 + ".pdf")
    assert len(name) == MAX_NAME and name.endswith(".pdf")
    assert len(clean_name("b" * 500)) == MAX_NAME


@pytest.mark.parametrize("raw", ["", "...", "dir/", "\x00\x01", " / "])
def test_a_name_with_nothing_left_is_refused_with_422(raw):
    with pytest.raises(Refused) as refused:
        clean_name(raw)
    assert refused.value.status == 422 and "file name" in refused.value.reason


def test_a_declared_type_is_bare_and_lower_case():
    assert normalise_type("Text/Plain; charset=UTF-8") == "text/plain"
    assert normalise_type(None) == normalise_type("") == "application/octet-stream"


@pytest.mark.parametrize(("content_type", "head"), [
    ("image/png", PNG), ("image/jpeg", b"\xff\xd8\xff\xe0JFIF"), ("image/gif", b"GIF89a..."),
    ("image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 "), ("application/pdf", b"%PDF-1.7\n"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04rest"),
    ("application/msword", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest"),
    ("text/plain", "Grüße\nline 2".encode()), ("text/plain", "ab€".encode()[:-1]),  # a character cut by the chunk
    ("application/x-custom", b"anything at all"),  # a type without a known signature is not checked
])
def test_content_that_fits_its_declared_type_passes(content_type, head):
    check_content(content_type, head)


@pytest.mark.parametrize(("content_type", "head"), [
    ("image/png", b"<html><script>alert(1)</script>"), ("image/jpeg", PNG), ("application/pdf", b"%!PS-Adobe"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"MZ\x90\x00"),
    ("text/plain", b"MZ\x90\x00\x03\x00\x00\x00"), ("text/csv", b"\xff\xfe\xfa\xfb invalid utf-8"),
    ("image/webp", b"RIFF\x10\x00\x00\x00AVI LIST"),
])
def test_content_that_does_not_fit_its_declared_type_is_refused_with_422(content_type, head):
    with pytest.raises(Refused) as refused:
        check_content(content_type, head)
    assert refused.value.status == 422 and content_type in refused.value.reason


def test_the_tenants_limits_give_413_for_size_and_422_for_type():
    policy = AttachmentPolicy(max_bytes=1000, allowed_types=("image/png",))
    policy.check_size(1000)
    with pytest.raises(Refused) as too_big:
        policy.check_size(1001)
    assert too_big.value.status == 413 and "1000 bytes" in too_big.value.reason
    with pytest.raises(Refused) as wrong_type:
        policy.check_type("text/html")
    assert wrong_type.value.status == 422 and "text/html" in wrong_type.value.reason


def test_the_default_limits_are_10_mib_and_no_html_svg_or_xml():
    default = AttachmentPolicy()
    assert default.max_bytes == 10 * 1024 * 1024 and not default.configured
    assert {"image/png", "image/jpeg", "application/pdf", "text/plain"} <= set(default.allowed_types)
    assert not {"text/html", "image/svg+xml", "application/xml", "text/xml", "application/javascript"} & set(
        default.allowed_types)


# --- who may download ------------------------------------------------------------------------------------

def file(attachment_id: str = "f1", *, conversation_id: str = "c1", uploader: Sender = CUSTOMER,
         message_id: str | None = None, private: bool = False) -> Attachment:
    return Attachment(attachment_id=attachment_id, conversation_id=conversation_id, uploader=uploader,
                      name="scan.png", content_type="image/png", size=48, sha256="ab" * 32, uploaded_at=T0,
                      message_id=message_id, private=private)


def test_a_file_not_sent_yet_is_only_its_uploaders():
    unsent = file()
    assert unsent.visible_to(conversation_id="c1", reader=CUSTOMER, include_private=False)
    assert not unsent.visible_to(conversation_id="c1", reader=AGENT, include_private=True)


def test_a_sent_file_is_for_the_conversations_readers_and_a_notes_file_for_staff_only():
    sent, note = file(message_id="m1"), file(uploader=AGENT, message_id="m2", private=True)
    assert sent.visible_to(conversation_id="c1", reader=AGENT, include_private=False)
    assert not sent.visible_to(conversation_id="c2", reader=CUSTOMER, include_private=False)  # another conversation
    assert note.visible_to(conversation_id="c1", reader=Sender(kind="agent", id="a2"), include_private=True)
    assert not note.visible_to(conversation_id="c1", reader=CUSTOMER, include_private=False)


# --- attaching, through the handlers on fakes ------------------------------------------------------------

@pytest.fixture
def chat() -> Chat:
    return Chat()


def send(actor: Actor, client_id: str, ids: list[str], text: str = "", *, cid: str = "c1",
         private: bool = False) -> c.SendMessage:
    return c.SendMessage(conversation_id=cid, client_message_id=client_id, text=text, attachment_ids=ids,
                         private=private, actor=actor)


def stored(chat: Chat, attachment_id: str, tenant: str = "t1") -> dict:
    return chat.uow.docs["attachments.files"][f"{tenant}|{attachment_id}"]["metadata"]


def test_a_message_needs_a_text_or_an_attachment():
    with pytest.raises(ValidationError, match="a text or at least one attachment"):
        c.SendMessage(conversation_id="c1", client_message_id="m", text="")
    assert c.SendMessage(conversation_id="c1", client_message_id="m", attachment_ids=["f1"]).text == ""


async def test_a_customers_upload_is_attached_to_its_message_and_the_event_carries_its_metadata(chat):
    await chat.active(agent_id="a1")
    uploaded(chat.uow, "t1", file("f1"))
    accepted = await chat.accepted(send(customer("cu1"), "m-1", ["f1"]))
    posted = chat.events(c.MessagePosted)[-1]
    assert posted.message_id == accepted.result_id and posted.text == ""
    assert [a.model_dump() for a in posted.attachments] == [
        {"attachment_id": "f1", "name": "scan.png", "content_type": "image/png", "size": 48}]
    assert stored(chat, "f1")["message_id"] == accepted.result_id and stored(chat, "f1")["private"] is False


async def test_an_agents_note_with_a_file_marks_the_file_private(chat):
    await chat.active(agent_id="a1")
    uploaded(chat.uow, "t1", file("f2", uploader=AGENT))
    await chat.accepted(send(agent("a1"), "n-1", ["f2"], "see the scan", private=True))
    assert stored(chat, "f2")["private"] is True


async def test_a_file_is_attached_once(chat):
    await chat.active(agent_id="a1")
    uploaded(chat.uow, "t1", file("f1"))
    await chat.accepted(send(customer("cu1"), "m-1", ["f1"]))
    again = await chat.rejected(send(customer("cu1"), "m-2", ["f1"]))
    assert again.code == "conflict" and "attached to a message already" in again.reason
    twice = await chat.rejected(send(customer("cu1"), "m-3", ["f1", "f1"], "x"))
    assert twice.code == "invalid_argument"


async def test_only_the_senders_own_upload_to_this_conversation_can_be_attached(chat):
    await chat.active(agent_id="a1")
    await chat.active("c2", agent_id="a1")
    uploaded(chat.uow, "t1", file("by-customer"))
    uploaded(chat.uow, "t1", file("elsewhere", conversation_id="c2"))
    uploaded(chat.uow, "t2", file("other-tenant"))
    for ids, actor in ((["by-customer"], agent("a1")), (["elsewhere"], customer("cu1")),
                       (["other-tenant"], customer("cu1")), (["never-uploaded"], customer("cu1"))):
        refused = await chat.rejected(send(actor, f"try-{ids[0]}", ids))
        assert refused.code == "invalid_argument" and "was not uploaded by you" in refused.reason, ids
    assert stored(chat, "by-customer")["message_id"] is None


async def test_a_refused_message_attaches_nothing(chat):
    await chat.active(agent_id="a1")
    uploaded(chat.uow, "t1", file("f3", uploader=AGENT))
    refused = await chat.rejected(send(agent("a1"), "a-1", ["f3"], "<b>hi</b>"))  # composer rule C3
    assert refused.code == "invalid_text"
    assert stored(chat, "f3")["message_id"] is None
    await chat.accepted(send(agent("a1"), "a-2", ["f3"], "Here you are"))  # still attachable
    assert stored(chat, "f3")["message_id"] is not None


async def test_a_retried_send_returns_the_first_message_and_attaches_nothing_twice(chat):
    await chat.active(agent_id="a1")
    uploaded(chat.uow, "t1", file("f1"))
    first = await chat.accepted(send(customer("cu1"), "m-1", ["f1"]))
    retried = await chat.accepted(send(customer("cu1"), "m-1", ["f1"]))  # a new request id, same client id
    assert retried.result_id == first.result_id and len(chat.events(c.MessagePosted)) == 2


async def test_the_tenants_limits_are_an_admins_to_set(chat):
    def configure(actor: Actor) -> c.ConfigureAttachments:
        return c.ConfigureAttachments(max_bytes=2048, allowed_types=["image/png", "image/png", "text/plain"],
                                      actor=actor)
    refused = await chat.rejected(configure(agent("a1")))
    assert refused.code == "forbidden"
    await chat.accepted(configure(ADMIN))
    (configured,) = chat.events(c.AttachmentsConfigured)
    assert configured.max_bytes == 2048 and configured.allowed_types == ["image/png", "text/plain"]
    assert chat.uow.docs["attachment_settings"]["t1"]["allowed_types"] == ["image/png", "text/plain"]
    with pytest.raises(ValidationError):
        c.ConfigureAttachments(max_bytes=100 * 1024 * 1024, allowed_types=["image/png"])  # over the hard cap
    with pytest.raises(ValidationError):
        c.ConfigureAttachments(max_bytes=10, allowed_types=["Not A Type"])

