"""Every Kafka topic in one place: name, partitions, key, producer, consumers and the messages it carries.

`python -m shared.topics` creates them; each service's AsyncAPI document is built from here."""

from dataclasses import dataclass, field

from shared.contracts import answers, cases, chat, customer, deadletter, routing
from shared.contracts.envelope import Message


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    producer: str
    consumers: tuple[str, ...]
    description: str
    messages: tuple[type[Message], ...] = field(default=())


ROUTING_COMMANDS = Topic(
    name="routing.commands", partitions=8,
    key="conversation_id (work items), agent_id (presence, capacity, skills), queue_id (queue configuration)",
    producer="gateway (an agent's own commands), chat (route, end)", consumers=("routing",),
    description="Commands to the routing service; each is answered on routing.events by platform.CommandAccepted "
                "or platform.CommandRejected.",
    messages=routing.COMMANDS,
)
ROUTING_EVENTS = Topic(
    name="routing.events", partitions=8,
    key="conversation_id (work-item events), agent_id (presence, capacity), queue_id (queue configuration)",
    producer="routing", consumers=("chat", "gateway", "analysts"),
    description="Everything routing decides: queued, offered, accepted, declined, expired, assigned, transferred, "
                "overflowed, conference, presence and capacity changes, command answers.",
    messages=(*routing.EVENTS, *answers.ANSWERS),
)
CHAT_COMMANDS = Topic(
    name="chat.commands", partitions=8,
    key="conversation_id (conversations and messages), queue_id or list_id (chat settings)",
    producer="gateway", consumers=("chat",),
    description="Commands to the chat service; each is answered on chat.events by platform.CommandAccepted or "
                "platform.CommandRejected.",
    messages=chat.COMMANDS,
)
CHAT_EVENTS = Topic(
    name="chat.events", partitions=8,
    key="conversation_id (conversations and messages), queue_id or list_id (chat settings)",
    producer="chat", consumers=("gateway", "customer", "routing (CustomerErased only)", "analysts"),
    description="Conversations started, state changes (C1), messages with their sequence numbers, read receipts, "
                "closed conversations with their wrap-up, chat settings, command answers.",
    messages=(*chat.EVENTS, *answers.ANSWERS),
)
CUSTOMER_COMMANDS = Topic(
    name="customer.commands", partitions=8, key="contact_id (contacts), account_id (accounts)",
    producer="gateway", consumers=("customer",),
    description="Commands to the customer service; each is answered on customer.events by "
                "platform.CommandAccepted or platform.CommandRejected.",
    messages=customer.COMMANDS,
)
CUSTOMER_EVENTS = Topic(
    name="customer.events", partitions=8, key="contact_id (contacts), account_id (accounts)",
    producer="customer", consumers=("gateway", "chat", "analysts"),
    description="Contacts and accounts created and edited, chat customers linked to them (names and links, never "
                "e-mail or phone), contacts erased (ids only), command answers.",
    messages=(*customer.EVENTS, *answers.ANSWERS),
)
CASES_COMMANDS = Topic(
    name="cases.commands", partitions=8, key="case_id (cases), record_id (quick notes), service_request_id, "
                                            "article_id",
    producer="gateway", consumers=("cases",),
    description="Commands to the cases service; each is answered on cases.events by platform.CommandAccepted or "
                "platform.CommandRejected.",
    messages=cases.COMMANDS,
)
CASES_EVENTS = Topic(
    name="cases.events", partitions=8, key="case_id (cases), record_id (quick notes), service_request_id, "
                                          "article_id, conversation_id (suggestions)",
    producer="cases", consumers=("gateway", "analysts"),
    description="Cases opened and edited, conversations linked to them, quick notes (ids only), service requests, "
                "knowledge articles saved, answers suggested for customers' messages, command answers.",
    messages=(*cases.EVENTS, *answers.ANSWERS),
)
DEAD_LETTERS = Topic(
    name="platform.deadletter", partitions=1, key="original record key",
    producer="any consumer", consumers=("operators",),
    description="Records a consumer could not process (invalid, or failing after retries), with the reason.",
    messages=(deadletter.MessageDeadLettered,),
)

TOPICS: tuple[Topic, ...] = (ROUTING_COMMANDS, ROUTING_EVENTS, CHAT_COMMANDS, CHAT_EVENTS, CUSTOMER_COMMANDS,
                              CUSTOMER_EVENTS, CASES_COMMANDS, CASES_EVENTS, DEAD_LETTERS)


def topic(name: str) -> Topic:
    for t in TOPICS:
        if t.name == name:
            return t
    raise KeyError(name)
