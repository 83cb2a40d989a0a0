"""Typed, versioned message contracts: the envelope, one module per producing service, and the topic catalogue."""

from shared.contracts.envelope import (Command, Envelope, Event, InvalidMessage, Message, UnknownMessageType, decode,
                                       encode, wrap)

__all__ = ["Command", "Envelope", "Event", "InvalidMessage", "Message", "UnknownMessageType", "decode", "encode",
           "wrap"]
