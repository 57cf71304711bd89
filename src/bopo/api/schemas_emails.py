"""The API's JSON shapes for email templates, the outbox and sending.

Template bodies are taken as written: no whitespace is stripped (a body's
last newline is part of it). Read shapes follow the services' views.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bopo.api.schemas_lifecycle import AssociationRead, Id
from bopo.domain.statuses import EmailState
from bopo.domain.templating import MAX_PART_CHARS, EmailEvent, TemplateType

TemplateName = Annotated[str, Field(min_length=1, max_length=200)]
Part = Annotated[str, Field(max_length=MAX_PART_CHARS)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- templates -------------------------------------------------------------------------


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


class TemplateRead(_Read):
    id: int
    name: str
    type: TemplateType
    subject: str
    body_text: str
    body_html: str | None
    statuses: list[str] = Field(description="Codes of the PO line statuses it is attached to")
    created_at: datetime
    updated_at: datetime


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


class PreviewRead(_Read):
    """The email as the customer would get it."""

    to: str | None = Field(description="The customer's address; null for the sample")
    order: str | None = Field(description="The order rendered for, as source/number")
    subject: str
    body_text: str
    body_html: str | None


class StatusUpdate(_Body):
    """Attach an email template to the status by name, or detach it with null."""

    template: TemplateName | None


# --- the outbox ------------------------------------------------------------------------


class EmailSummaryRead(_Read):
    id: int
    state: EmailState
    to: str = Field(validation_alias=AliasChoices("to", "to_address"))
    subject: str
    sales_order: str | None = Field(description="source/number")
    sales_order_id: int | None
    template: str | None
    event: str = Field(description="What queued it: " + ", ".join(EmailEvent))
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None = Field(description="Not sent before this (after a failure)")
    superseded_by: int | None = Field(
        None, description="Superseded: the email that says what is true instead (none: nothing)"
    )
    superseded_reason: str | None = Field(
        None, description="Superseded: which link or date it states changed before it was sent"
    )


class HeaderRead(BaseModel):
    name: str
    value: str


class EmailRead(EmailSummaryRead):
    """One email: the message as it goes out, and the links it announces."""

    to_name: str | None
    message_id: str
    headers: list[HeaderRead] = Field(description="As sent, encoded words decoded")
    body_text: str
    body_html: str | None
    associations: list[AssociationRead] = Field(description="The links it announces, as now")
    claimed_by: str | None = Field(description="The mailer sending it, while `sending`")
    lease_until: datetime | None


class EmailSend(_Body):
    """Which emails to send now; left out: every due pending email."""

    ids: Annotated[list[Id], Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="Just these (pending ones are sent even if not yet due)"
    )
    limit: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="At most this many"
    )


class SendRead(BaseModel):
    """What the run did. An unreachable server is not an error: `stopped` says so and the
    emails stay pending with the error, to be tried again."""

    sent: int
    failed: int = Field(description="Refused for good (5xx), or out of attempts")
    retrying: int = Field(description="Back to pending after a transient failure")
    released: int = Field(description="Claimed but handed back unsent")
    superseded: int = Field(0, description="No longer true when claimed: superseded, not sent")
    left: int = Field(description="Of those asked for, still pending or being sent")
    errors: list[str]
    stopped: str | None = Field(description="Why the run ended early, e.g. server unreachable")
