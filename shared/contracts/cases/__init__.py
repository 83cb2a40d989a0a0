"""Cases' contract: commands (what it accepts), events (what it publishes), reads (its read API's answers).
Only the cases service changes this package."""

from shared.contracts.cases.commands import *  # noqa: F403
from shared.contracts.cases.commands import COMMANDS as _CASE_COMMANDS
from shared.contracts.cases.commands import CasesCommand
from shared.contracts.cases.common import CaseFields
from shared.contracts.cases.events import *  # noqa: F403
from shared.contracts.cases.events import CasesEvent
from shared.contracts.cases.knowledge import *  # noqa: F403
from shared.contracts.cases.knowledge import ArticleSaved, DraftArticleFromReply, SaveArticle, Suggestion

COMMANDS: tuple[type[CasesCommand], ...] = (*_CASE_COMMANDS, SaveArticle, DraftArticleFromReply)
EVENTS: tuple[type[CasesEvent], ...] = tuple(CasesEvent.__subclasses__())

__all__ = ["COMMANDS", "EVENTS", "CasesCommand", "CasesEvent", "CaseFields", "Suggestion", "ArticleSaved",
           *(c.__name__ for c in COMMANDS), *(e.__name__ for e in EVENTS)]
