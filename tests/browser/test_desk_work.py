"""More of the desktop in chromium: unread badges past 9, the sentiment alert, drafts kept across tabs, the confirmation on close, a
conference, the supervisor's queue board, the line's clients, suggested answers; and the widget's files, hints and
offline message."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.e2e.helpers import accept, answered, available, message

from .helpers import accessible, desk_with_a_chat, screenshot, sign_in, support_tenant

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ANGRY = "This is absolutely unacceptable!!! Third time I'm writing, you charged me twice. Refund me NOW."
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def test_unread_past_nine_the_sentiment_alert_drafts_the_close_confirmation_a_case_tab_and_a_conference(tenant, pages):
    await support_tenant(tenant, "alice", "bob")
    alice = await pages.open(f"/web/desk.html?tenant={tenant.id}")
    await sign_in(alice, tenant.id, "alice")
    await alice.get_by_label("Presence").select_option("available")
    ann, started = await tenant.customer("support", "First question", name="Ann")
    await alice.get_by_role("group", name="Offer: Ann").get_by_role("button", name="Accept").click()
    await expect(alice.get_by_role("tab", name="Ann")).to_have_attribute("aria-selected", "true")
    _, _ = await tenant.customer("support", "Second question", name="Ben")
    await alice.get_by_role("group", name="Offer: Ben").get_by_role("button", name="Accept").click()
    await expect(alice.get_by_role("tab", name="Ben")).to_have_attribute("aria-selected", "true")

    # a click on Ann's tab while a frame redraws the tabs still focuses it: the pointer goes down on Ann's tab,
    # a message of Ann's puts an unread count on it, then the pointer goes up (a redraw that replaced the tab
    # lost such clicks)
    box = await alice.get_by_role("tab", name="Ann").bounding_box()
    await alice.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await alice.mouse.down()
    sent = await ann.post(f"/v1/widget/conversations/{started['conversation_id']}/messages",
                          {"client_message_id": "u-1", "text": "Hello?"})
    assert sent.status_code == 200, sent.text
    await expect(alice.get_by_role("tab", name="Ann").locator(".unread")).to_have_text("1")
    await alice.mouse.up()
    # a draft in Ann's tab survives a switch to Ben's and back
    await expect(alice.get_by_role("tab", name="Ann")).to_have_attribute("aria-selected", "true")
    composer = alice.get_by_label("Message to the customer")
    await composer.fill("Half a reply")
    await alice.get_by_role("tab", name="Ben").click()
    await expect(alice.get_by_role("tab", name="Ben")).to_have_attribute("aria-selected", "true")
    await expect(composer).to_have_value("")
    for n in range(10):
        sent = await ann.post(f"/v1/widget/conversations/{started['conversation_id']}/messages",
                              {"client_message_id": f"u{n}", "text": f"Are you there? ({n})"})
        assert sent.status_code == 200, sent.text
    await expect(alice.get_by_role("tab", name="Ann").locator(".unread")).to_have_text("9+")
    # then an angry message: the sentiment alert "!" on Ann's tab, cleared by focusing it
    for n, text in enumerate((ANGRY, "I am furious. Worst service ever, I'm done.")):
        sent = await ann.post(f"/v1/widget/conversations/{started['conversation_id']}/messages",
                              {"client_message_id": f"angry{n}", "text": text})
        assert sent.status_code == 200, sent.text
    alert = alice.get_by_role("tab", name="Ann").get_by_role("img", name="Ann. Your conversation urgently needs attention.")
    await expect(alert).to_have_text("!", timeout=60_000)  # chat's model scores the message in its own group
    await alice.get_by_role("tab", name="Ann").click()
    await expect(alert).to_have_count(0)
    await expect(composer).to_have_value("Half a reply")
    await expect(alice.get_by_role("tab", name="Ann").locator(".unread")).to_have_count(0)
    await expect(alice.locator("#messages")).to_contain_text("I am furious.")

    # closing the tab would end the chat (and lose a draft): the desktop asks first
    await alice.get_by_role("button", name="Close tab").click()
    dialog = alice.get_by_role("dialog", name="Close this tab?")
    await expect(dialog).to_contain_text("the conversation is active")
    await accessible(alice, "desktop asking before a close")
    await dialog.get_by_role("button", name="Keep it open").click()
    await expect(alice.get_by_role("tab", name="Ann")).to_be_visible()

    # the customer linked to a contact from the view; its card fills; a case opened from the view shows there,
    # then opens in a tab of its own
    created = await tenant.admin.post("/v1/contacts", {"contact_id": "ann-k", "full_name": "Ann Kalnina",
                                                        "email": "ann@example.com"})
    assert created.status_code == 200, created.text
    view = alice.get_by_role("complementary", name="Customer and case")
    await view.get_by_label("Link to contact (id)").fill("ann-k")
    # a redraw of the view (a customer message changes its summary) keeps what the agent typed
    count = view.get_by_role("region", name="Summary").locator("dt:text-is('Customer messages') + dd")
    before = await count.text_content()
    sent = await ann.post(f"/v1/widget/conversations/{started['conversation_id']}/messages",
                          {"client_message_id": "u-2", "text": "One more thing"})
    assert sent.status_code == 200, sent.text
    await expect(count).not_to_have_text(before)
    await expect(view.get_by_label("Link to contact (id)")).to_have_value("ann-k")
    await view.get_by_role("button", name="Link", exact=True).click()
    await expect(view.get_by_role("region", name="Customer")).to_contain_text("Ann Kalnina")
    await view.get_by_label("Open a case: title").fill("Late order")
    await view.get_by_role("button", name="Open case").click()
    await expect(view.get_by_role("region", name="Case", exact=True)).to_contain_text("Late order")
    await expect(view.get_by_role("region", name="Timeline")).not_to_contain_text("Nothing yet")
    await view.get_by_label("Quick note").fill("Courier called twice")
    await view.get_by_role("button", name="Add note").click()
    await expect(view.get_by_role("list", name="Quick notes")).to_contain_text("Courier called twice")
    await view.get_by_role("button", name="Open the case in a tab").click()
    await expect(alice.get_by_role("tab", name="Late order")).to_have_attribute("aria-selected", "true")
    await expect(alice.get_by_role("heading", name="Case: Late order")).to_be_visible()
    await alice.get_by_role("tab", name="Ann").click()
    await expect(alice.get_by_role("tab", name="Ann")).to_have_attribute("aria-selected", "true")
    await expect(view.get_by_role("region", name="Case", exact=True)).to_contain_text("Late order")
    await screenshot(alice, "desk-with-case")

    # a conference: bob is invited, accepts, writes; alice sees his message
    bob = await pages.open(f"/web/desk.html?tenant={tenant.id}")
    await sign_in(bob, tenant.id, "bob")
    await bob.get_by_label("Presence").select_option("available")
    await expect(bob.get_by_label("Presence")).to_have_attribute("data-confirmed", "available")
    await alice.get_by_role("button", name="Invite…").click()
    await alice.get_by_label("Colleague (user id)").fill("bob")
    await alice.get_by_role("button", name="Invite", exact=True).click()
    await bob.get_by_role("group", name="Conference with alice: Ann").get_by_role("button", name="Accept").click()
    await expect(bob.get_by_role("tab", name="Ann")).to_have_attribute("aria-selected", "true")
    await expect(bob.get_by_role("button", name="Leave conference")).to_be_visible()
    await bob.get_by_label("Message to the customer").fill("Bob joining to help.")
    await bob.get_by_role("button", name="Send").click()
    await expect(alice.locator("#messages")).to_contain_text("Bob joining to help.")


async def test_the_board_files_both_ways_an_offline_message_the_line_take_and_observe(tenant, pages):
    await support_tenant(tenant, "alice")
    later = datetime.now(UTC) + timedelta(days=3)
    await tenant.queue("night", ["alice"], operating_hours={
        "timezone": "UTC", "weekly": {WEEKDAYS[later.weekday()]: [{"start": "10:00", "end": "11:00"}]}})
    await tenant.agent("sam", role="supervisor", supervises=["support"])

    widget = await pages.open(f"/web/widget.html?tenant={tenant.id}&queue=support")
    await widget.get_by_label("Your name").fill("Fay")
    await widget.get_by_label("How can we help?").fill("Here is my receipt")
    await widget.get_by_role("button", name="Start chat").click()
    await expect(widget.locator("#waiting")).to_contain_text("You are number 1 in the queue")
    await widget.locator("#file").set_input_files(files=[{"name": "receipt.txt", "mimeType": "text/plain",
                                                           "buffer": b"Receipt 1234: 19.99 EUR\n"}])
    await expect(widget.locator("#messages .file")).to_have_text("📎 receipt.txt")

    sam = await pages.open(f"/web/desk.html?tenant={tenant.id}")
    await sign_in(sam, tenant.id, "sam")
    board = sam.get_by_role("region", name="Queue board")
    await expect(board.get_by_role("table", name="Waiting")).to_contain_text("Fay")
    await expect(board.get_by_role("table", name="Agents")).to_contain_text("alice")
    await accessible(sam, "desktop with the queue board")

    closed = await pages.open(f"/web/widget.html?tenant={tenant.id}&queue=night")
    await expect(closed.get_by_text("We are closed now")).to_be_visible()
    await accessible(closed, "widget's offline message form")
    await closed.get_by_label("Name", exact=True).fill("Gus")
    await closed.get_by_label("E-mail, for our answer").fill("gus@example.com")
    await closed.get_by_label("Message for us").fill("Please call me back tomorrow")
    await closed.get_by_role("button", name="Send message").click()
    await expect(closed.get_by_role("status").filter(has_text="your message was sent")).to_be_visible()

    alice = await pages.open(f"/web/desk.html?tenant={tenant.id}")
    await sign_in(alice, tenant.id, "alice")
    await expect(alice.locator("#list-closed")).to_contain_text("Gus")
    await alice.locator("#list-closed li", has_text="Gus").get_by_role("button", name="Open").click()
    await expect(alice.get_by_role("region", name="Transcript: Gus")).to_contain_text("Please call me back tomorrow")

    # the line's clients: Fay wrote on line support; alice marks her a favourite
    line = alice.get_by_role("region", name="Line clients")
    await line.get_by_role("button", name="Show").click()
    await expect(line.get_by_role("table")).to_contain_text("Fay")
    await line.get_by_role("button", name="Favourite: Fay").click()
    await expect(line.get_by_role("button", name="Favourite: Fay")).to_have_attribute("aria-pressed", "true")

    # Fay still waits: alice (busy, so not offered anything) takes her from the Open list, downloads her file and
    # sends one back
    await alice.get_by_label("Presence").select_option("busy")
    await expect(alice.get_by_label("Presence")).to_have_attribute("data-confirmed", "busy")
    await alice.locator("#list-open li", has_text="Fay").get_by_role("button", name="Take").click()
    await expect(alice.get_by_role("tab", name="Fay")).to_have_attribute("aria-selected", "true")
    async with alice.expect_download() as downloading:
        await alice.locator("#messages .file", has_text="receipt.txt").click()
    assert (await (await downloading.value).path()).read_text() == "Receipt 1234: 19.99 EUR\n"
    await alice.locator("#file").set_input_files(files=[{"name": "label.txt", "mimeType": "text/plain",
                                                          "buffer": b"Return label\n"}])
    await expect(widget.locator("#messages .file", has_text="label.txt")).to_be_visible()

    # the supervisor observes from the board: the messages so far, read-only (chat's reason shown)
    await board.get_by_role("button", name="Observe Fay").click()
    await expect(sam.get_by_role("tab", name="Fay (observing)")).to_have_attribute("aria-selected", "true")
    await expect(sam.locator("#messages")).to_contain_text("label.txt")
    await sam.get_by_label("Message to the customer").fill("Hello from the supervisor")
    await sam.get_by_role("button", name="Send").click()
    await expect(sam.locator("#composer-error")).to_contain_text("read-only")


async def test_hints_in_the_widget_and_a_suggested_answer_inserted_on_the_desktop(tenant, pages):
    await support_tenant(tenant, "alice")
    saved = await answered(tenant.admin, "/v1/articles", {
        "article_id": "kb-returns", "title": "Our 30-day return policy", "tags": ["help"], "status": "published",
        "body": "You can return most items within 30 days of delivery for a full refund, for any reason. Start a "
                "return in Orders with Return items."})
    assert saved["result_id"] == "kb-returns", saved
    alice = await pages.open(f"/web/desk.html?tenant={tenant.id}")
    await sign_in(alice, tenant.id, "alice")
    await alice.get_by_label("Presence").select_option("available")
    widget = await pages.open(f"/web/widget.html?tenant={tenant.id}&queue=support")
    await widget.get_by_label("Your name").fill("Hal")
    await widget.get_by_label("How can we help?").fill("Hello")
    await widget.get_by_role("button", name="Start chat").click()
    await alice.get_by_role("group", name="Offer: Hal").get_by_role("button", name="Accept").click()

    # while the customer types, the widget offers the article; it opens in place
    await widget.get_by_label("Your message").press_sequentially("Can I return the kettle and get a refund?")
    await widget.get_by_role("button", name="Our 30-day return policy").click()
    await expect(widget.get_by_role("article")).to_contain_text("within 30 days of delivery")
    await widget.get_by_label("Your message").press("Enter")

    # the agent gets it as a suggested answer: a click puts its text in the composer
    await alice.get_by_role("button", name="Our 30-day return policy").click()
    await expect(alice.get_by_label("Message to the customer")).to_have_value(re.compile("30 days"))


async def test_a_parked_persistent_chat_is_not_written_to_until_chat_gives_it_back(tenant, pages):
    """The desktop lets the agent write while chat says the conversation is active: parked (waiting for the
    customer), the composer is off; the customer's next message brings it back, and the composer with it."""
    await support_tenant(tenant, "alice")
    await tenant.queue("support", ["alice"], persistent=True, wrap_up_required=True)
    alice, ann, started = await desk_with_a_chat(pages, tenant, "alice", "Ann", "Where is my order?")
    cid = started["conversation_id"]
    await expect(alice.locator("#conv-state")).to_have_text("active")
    composer = alice.get_by_label("Message to the customer")
    await expect(composer).to_be_enabled()

    agent = await tenant.sign_in("alice")  # the desktop has no button for it: parked through the API
    parked = await agent.post(f"/v1/conversations/{cid}/close-to-waiting")
    assert parked.status_code == 200, parked.text
    await expect(alice.locator("#conv-state")).to_have_text("waiting")
    await expect(composer).to_be_disabled()

    again = await ann.post(f"/v1/widget/conversations/{cid}/messages",
                           {"client_message_id": "later", "text": "Any news?"})
    assert again.status_code == 200, again.text
    await expect(alice.locator("#conv-state")).to_have_text("active")
    await expect(composer).to_be_enabled()
    await expect(alice.locator("#messages")).to_contain_text("Any news?")


async def test_a_conversation_back_with_its_agent_shows_what_was_written_while_a_colleague_had_it(tenant, pages):
    """Chat sends a message live only to the agents it has then. Alice's desktop keeps the list it loaded; while
    bob has the conversation, the customer writes; bob transfers it back: chat's state change naming alice again
    makes her desktop read the list, so the message is there (found by the chaos run: after a restart chat may
    post a message before it handles routing's transfer, and the new agent's desktop never showed it)."""
    await support_tenant(tenant, "alice", "bob")
    alice, dana, started = await desk_with_a_chat(pages, tenant, "alice", "Dana", "First question")
    cid = started["conversation_id"]
    await expect(alice.locator("#messages")).to_contain_text("First question")

    bob = await tenant.sign_in("bob")
    bob_desk = await tenant.stream(bob)
    await available(bob)
    moved = await answered(await tenant.sign_in("alice"), f"/v1/conversations/{cid}/transfer",
                           {"to_agent_id": "bob", "reason": "billing"})
    assert moved["status"] == "accepted", moved
    await accept(bob, bob_desk, cid)
    wrote = await dana.post(f"/v1/widget/conversations/{cid}/messages",
                            {"client_message_id": "to-bob", "text": "Written while bob had it"})
    assert wrote.status_code == 200, wrote.text
    await bob_desk.wait_for(message("Written while bob had it"))
    back = await answered(bob, f"/v1/conversations/{cid}/transfer", {"to_agent_id": "alice", "reason": "back"})
    assert back["status"] == "accepted", back

    await alice.get_by_role("group", name="Offer: Dana").get_by_role("button", name="Accept").click()
    await expect(alice.get_by_role("tab", name="Dana")).to_have_attribute("aria-selected", "true")
    await expect(alice.locator("#conv-state")).to_have_text("active")
    await expect(alice.locator("#messages")).to_contain_text("Written while bob had it")
