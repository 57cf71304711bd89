"""The API's request shapes for email templates, the outbox and sending (answers are
the services' own results: TemplateView, Preview, EmailView, SendReport).

Template bodies are taken as written: no whitespace is stripped (a body's
last newline is part of it).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bopo.api.schemas_lifecycle import Id
from bopo.domain.templating import MAX_PART_CHARS, TemplateType

TemplateName = Annotated[str, Field(min_length=1, max_length=200)]
Part = Annotated[str, Field(max_length=MAX_PART_CHARS)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateCreate(_Body):
    """A new template; refused (422, naming the part and line) unless it parses and
    renders against the sample order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Back order",
                    "type": "BACK_ORDER",
                    "subject": "Your order {{ order.number }}: expected dates",
                    "body_text": "Dear {{ customer.name }},\n\n{{ table(lines) }}\n\n"
                    "{{ company.name }}\n",
                    "body_html": None,
                }
            ]
        }
    )

    name: TemplateName
    type: TemplateType = TemplateType.BACK_ORDER
    subject: Part
    body_text: Part
    body_html: Part | None = Field(default=None, description="Leave out or null: text only")


class TemplateUpdate(_Body):
    """What is given changes, the rest stays; `body_html: null` removes the HTML body.
    Emails queued already keep the text they were rendered with."""

    name: TemplateName | None = Field(default=None, description="A new name")
    subject: Part | None = None
    body_text: Part | None = None
    body_html: Part | None = None

    @field_validator("name", "subject", "body_text")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("must not be null")
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give name, subject, body_text or body_html")
        return self

    @property
    def html_given(self) -> bool:
        return "body_html" in self.model_fields_set


class TemplatePreviewCreate(_Body):
    """An unsaved template to render, against an order's linked lines or the sample."""

    type: TemplateType = TemplateType.BACK_ORDER
    subject: Part
    body_text: Part
    body_html: Part | None = None
    order_id: Id | None = Field(default=None, description="Render for this sales order")
    order_number: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="Or for the sales order with this number"
    )
    order_source: Annotated[str, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="Its source, when two channels share the number"
    )


class StatusUpdate(_Body):
    """Attach an email template to the status by name, or detach it with null."""

    template: TemplateName | None


# --- the outbox ------------------------------------------------------------------------


class EmailSend(_Body):
    """Which emails to send now; left out: every due pending email."""

    ids: Annotated[list[Id], Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="Just these (pending ones are sent even if not yet due)"
    )
    limit: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="At most this many"
    )
