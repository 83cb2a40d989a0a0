"""Knowledge base (K4): articles for staff (write, edit against the version read, publish, read, search; a draft
from an agent's reply) and, for the widget's customer, similar-question hints while typing and the article
chosen (published articles of the conversation's tenant only). Writes go to the cases service as commands (its
answer is returned); reads come from its read API. Suggested answers for a customer's message reach the agents
as `suggestions` frames on their stream (cases.AnswersSuggested, see projection.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from shared.contracts.cases.knowledge import ArticleList, ArticleStatus, ArticleView, DraftArticleFromReply, \
    HintList, SaveArticle
from shared.contracts.envelope import Identifier
from shared.contracts.chat.common import MAX_SEQ

from services.gateway.api_admin import admin
from services.gateway.api_cases import cases_read, send_to_cases
from services.gateway.api_staff import ANSWERS, IdempotencyKey, repeated
from services.gateway.auth.permissions import Action, Relation, Role, refusal
from services.gateway.identity import Customer, Staff, authorise, authorise_customer, raise_refusal, require_customer, \
    require_staff
from services.gateway.reads import chat_read, service_read

router = APIRouter(tags=["knowledge"])
LANGUAGE = Field("en", pattern=r"^[a-z]{2}$", description="ISO 639-1 language of the article.")
QueryLanguage = Annotated[str | None, Query(pattern=r"^[a-zA-Z]{2}([-_][a-zA-Z0-9]{1,8})*$",
                                            description="The language typed in (ISO 639-1 or BCP 47); guessed if "
                                                        "absent.")]


class ArticleContent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=50_000, description="Plain text.")
    tags: list[str] = Field(default_factory=list, max_length=30)
    language: str = LANGUAGE
    status: ArticleStatus = Field("draft", description="draft, or published (suggested to agents, hinted to "
                                                       "customers).")


class NewArticle(ArticleContent):
    article_id: Identifier | None = Field(None, description="Your id for it (generated if omitted).")


class ArticleEdit(ArticleContent):
    version: int = Field(ge=1, description="The version you read (a stale one: 409).")


class DraftFromReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=300, description="Default: the reply's first words.")
    language: str = LANGUAGE
    article_id: Identifier | None = Field(None, description="Your id for the draft (generated if omitted).")


class WidgetArticle(BaseModel):
    """A published article as the customer reads it."""
    article_id: str
    title: str
    body: str
    language: str
    updated_at: datetime


@router.post("/v1/articles", responses=ANSWERS)
async def create_article(body: NewArticle, request: Request, staff: Staff = Depends(admin(Action.EDIT_ARTICLES)),
                         key: str | None = IdempotencyKey) -> JSONResponse:
    """A new article, a draft unless `status` is published; result_id is its id."""
    return await send_to_cases(request, staff, SaveArticle(
        article_id=body.article_id or uuid4().hex, **body.model_dump(exclude={"article_id"})), key)


@router.put("/v1/articles/{article_id}", responses=ANSWERS)
async def edit_article(article_id: Identifier, body: ArticleEdit, request: Request,
                       staff: Staff = Depends(admin(Action.EDIT_ARTICLES)), key: str | None = IdempotencyKey
                       ) -> JSONResponse:
    """Replace its title, body, tags, language and status (publish it, or take it back to draft), if `version`
    is still the current one."""
    return await send_to_cases(request, staff, SaveArticle(article_id=article_id, **body.model_dump()), key)


@router.get("/v1/articles/{article_id}", response_model=ArticleView)
async def get_article(article_id: Identifier, request: Request,
                      staff: Staff = Depends(admin(Action.READ_ARTICLES))) -> Any:
    return await cases_read(request, staff, f"/articles/{article_id}")


@router.get("/v1/articles", response_model=ArticleList)
async def search_articles(request: Request, q: Annotated[str | None, Query(max_length=1000)] = None,
                          status: Literal["published", "any"] = "any", language: QueryLanguage = None,
                          limit: Annotated[int, Query(ge=1, le=100)] = 20,
                          staff: Staff = Depends(admin(Action.READ_ARTICLES))) -> Any:
    """With `q`: ranked by meaning and words (the embedding model and the text index, fused), in any language;
    without: the most recently changed."""
    return await cases_read(request, staff, "/articles", q=q, status=status, language=language, limit=limit)


@router.post("/v1/conversations/{conversation_id}/messages/{seq}/draft-article", responses=ANSWERS)
async def draft_from_reply(conversation_id: Identifier, seq: Annotated[int, Path(ge=1, le=MAX_SEQ)],
                           body: DraftFromReply,
                           request: Request, staff: Staff = Depends(require_staff),
                           key: str | None = IdempotencyKey) -> JSONResponse:
    """A draft article from an agent's reply (the message at `seq`, as chat holds it: masked), for an editor to
    finish and publish; result_id is the draft's id."""
    gw = request.app.state.gateway
    if (first := await repeated(request, staff, key)) is not None:
        return first
    await authorise(gw.db, staff, conversation_id, Action.DRAFT_ARTICLE)
    page = await chat_read(gw, f"/internal/tenants/{staff.tenant_id}/conversations/{conversation_id}/messages",
                           after_seq=seq - 1, limit=1, include_private="true")
    message = next((m for m in page["messages"] if m["seq"] == seq), None)
    if message is None:
        raise HTTPException(404, detail={"error": "not_found", "detail": "Not found."})
    if message["sender"]["kind"] != "agent" or message["private"] or not message["text"].strip():
        raise HTTPException(422, detail={"error": "invalid_argument",
                                         "detail": f"message {seq} is not an agent's reply to the customer"})
    return await send_to_cases(request, staff, DraftArticleFromReply(
        article_id=body.article_id or uuid4().hex, conversation_id=conversation_id,
        message_id=message["message_id"], title=body.title or " ".join(message["text"].split()[:8])[:300],
        text=message["text"], language=body.language), key)


W = "/v1/widget/conversations/{conversation_id}"


def _may_read_hints(customer: Customer, conversation_id: str) -> None:
    authorise_customer(customer, conversation_id)
    refused = refusal(Role.CUSTOMER, Action.READ_HINTS, {Relation.OWN})
    if refused is not None:
        raise_refusal(refused)


@router.get(W + "/hints", response_model=HintList)
async def hints(conversation_id: Identifier, request: Request, response: Response,
                q: Annotated[str, Query(min_length=3, max_length=300, description="What the customer has typed.")],
                language: QueryLanguage = None, limit: Annotated[int, Query(ge=1, le=5)] = 3,
                customer: Customer = Depends(require_customer)) -> Any:
    """Similar questions while the customer types (call it after a pause in typing, from 3 characters): the
    published articles of this conversation's tenant that may answer it, best first. The same text gives the
    same answer for a minute (cacheable)."""
    _may_read_hints(customer, conversation_id)
    response.headers["Cache-Control"] = "private, max-age=60"
    return await service_read(request.app.state.gateway.cases, "cases",
                              f"/internal/tenants/{customer.tenant_id}/hints",
                              **{"q": q, "limit": limit, **({"language": language} if language else {})})


@router.get(W + "/articles/{article_id}", response_model=WidgetArticle)
async def hinted_article(conversation_id: Identifier, article_id: Identifier, request: Request,
                         customer: Customer = Depends(require_customer)) -> Any:
    """The article a customer chose from the hints (published ones of the conversation's tenant; else 404)."""
    _may_read_hints(customer, conversation_id)
    return await service_read(request.app.state.gateway.cases, "cases",
                              f"/internal/tenants/{customer.tenant_id}/articles/{article_id}",
                              published_only="true")
