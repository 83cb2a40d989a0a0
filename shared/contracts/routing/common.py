"""Field types and descriptions routing's commands and events share."""

from typing import Literal

from pydantic import Field

PresenceName = Literal["available", "busy", "away", "offline", "rona"]
MethodName = Literal["round_robin", "least_loaded", "skills", "specialist_priority"]

CONVERSATION = Field(description="Conversation (work item) id.", examples=["conv-42"])
AGENT = Field(description="Agent id.", examples=["agent-7"])
