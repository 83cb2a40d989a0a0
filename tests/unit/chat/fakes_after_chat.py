"""In-memory survey setting and quick replies (services/chat/adapters/after_chat.py's documents, over
shared/testing/fakes.py's FakeUnitOfWork), for use-case and read API tests."""

from __future__ import annotations

from typing import Any

from services.chat.adapters.after_chat import (QUICK_REPLIES, SURVEY_SETTINGS, reply_from_doc, reply_id,
                                               reply_to_doc, survey_from_doc, survey_to_doc)
from services.chat.domain.quick_replies import QuickReply
from services.chat.domain.survey import SurveySettings
from shared.testing.fakes import FakeTransaction, FakeUnitOfWork

Doc = dict[str, Any]


class InMemoryAfterChat:
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        self._tx = tx
        self.tenant_id = tenant_id

    async def survey(self) -> SurveySettings:
        return survey_from_doc(self._tx.collection(SURVEY_SETTINGS).get(self.tenant_id))

    async def save_survey(self, settings: SurveySettings) -> None:
        doc = survey_to_doc(self.tenant_id, settings)
        self._tx.collection(SURVEY_SETTINGS)[doc["_id"]] = doc

    async def reply(self, name: str, owner: str | None) -> QuickReply | None:
        doc = self._tx.collection(QUICK_REPLIES).get(reply_id(self.tenant_id, name, owner))
        return reply_from_doc(doc) if doc else None

    async def save_reply(self, reply: QuickReply) -> None:
        doc = reply_to_doc(self.tenant_id, reply)
        self._tx.collection(QUICK_REPLIES)[doc["_id"]] = doc

    async def remove_reply(self, name: str, owner: str | None) -> bool:
        return self._tx.collection(QUICK_REPLIES).pop(reply_id(self.tenant_id, name, owner), None) is not None


class InMemoryAfterChatQueries:
    """The read API's queries over the committed documents (mixed into fakes.py's InMemoryChatQueries)."""

    _uow: FakeUnitOfWork

    async def survey_settings(self, tenant_id: str) -> Doc | None:
        return self._uow.docs.get(SURVEY_SETTINGS, {}).get(tenant_id)

    async def quick_replies(self, tenant_id: str, *, agent_id: str | None) -> list[Doc]:
        owners = {None, agent_id}
        found = [d for d in self._uow.docs.get(QUICK_REPLIES, {}).values()
                 if d["tenant_id"] == tenant_id and d["owner"] in owners]
        return sorted(found, key=lambda d: d["name"])
