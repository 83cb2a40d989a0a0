"""structlog setup: JSON when not on a terminal, with ids bound per handled message."""

import logging
import re
import sys
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import structlog


Processor = Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]


def configure_logging(level: str = "INFO", json: bool | None = None,
                      extra_processors: Sequence[Processor] = ()) -> None:
    """`extra_processors` see every line's fields (bound context and a formatted exception included) just
    before it is rendered: a service that must keep values out of its logs (chat's masking) passes one."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    shared_processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared_processors, structlog.processors.format_exc_info, *extra_processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (aiokafka, faststream, uvicorn) log through stdlib logging; keep them quieter and on stderr.
    logging.basicConfig(level=max(logging.getLevelName(level.upper()), logging.WARNING), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


bind_contextvars = structlog.contextvars.bind_contextvars
bound_contextvars = structlog.contextvars.bound_contextvars
clear_contextvars = structlog.contextvars.clear_contextvars


_CONVERSATION_IN_PATH = re.compile(r"/conversations/(?P<id>[^/?#]+)")


def request_context(app: Any) -> Any:
    """ASGI middleware: log lines written while serving a request about a conversation (its id in the path,
    as in every API here: `.../conversations/{conversation_id}/...`) carry `conversation_id`, as those of a
    consumed message about it do, so one id finds a conversation's lines across services."""
    async def bound(scope: Any, receive: Any, send: Any) -> None:
        conversation_id = conversation_in_path(scope)
        if conversation_id is None:
            await app(scope, receive, send)
            return
        with bound_contextvars(conversation_id=conversation_id):
            await app(scope, receive, send)
    return bound


def conversation_in_path(scope: Any) -> str | None:
    """The conversation an HTTP or WebSocket request is about, from its path (`.../conversations/{id}/...`)."""
    if scope["type"] not in ("http", "websocket"):
        return None
    found = _CONVERSATION_IN_PATH.search(scope.get("path", ""))
    return found["id"] if found is not None else None


