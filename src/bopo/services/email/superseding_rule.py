"""The rule that keeps unsent emails true, on plain values (see bopo.services.email.superseding):
which waiting emails no longer say what is true, which ones new links join, and what
the emails queued instead announce."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from bopo.domain.changes import is_overdue
from bopo.domain.templating import EmailEvent
from bopo.services.email.backorder_emails import TemplateRef

NOTICE = EmailEvent.DUE_DATE.value


@dataclass(frozen=True, slots=True)
class Waiting:
    """A waiting email: what it is for."""

    id: int
    order_id: int
    template_id: int | None
    event: str


@dataclass(frozen=True, slots=True)
class StatedLine:
    """One link as an email states it, beside how it stands now."""

    email_id: int
    association_id: int
    stated_qty: int | None
    stated_due: date | None
    stated_overdue: bool
    previous_due: date | None
    state: str
    qty: int
    due_date: date | None
    status_id: int | None
    order_status: str
    line_no: int
    po_number: str
    po_line_no: int
    po_line_id: int
    so_line_id: int

    @property
    def active(self) -> bool:
        return self.state == "active" and self.order_status == "open"

    def why_untrue(
        self, template_id: int | None, templates: Mapping[int, TemplateRef], today: date
    ) -> str | None:
        """Why the email no longer says what is true of this link, or None."""
        where = f"line {self.line_no}"
        po = f"{self.po_number} line {self.po_line_no}"
        if self.order_status != "open":
            return f"the order is {self.order_status}"
        if self.state == "fulfilled":
            return f"{where}: the goods came in on {po}"
        if self.state != "active":
            return f"{where}: no longer linked to {po}"
        if self.stated_qty is not None and self.qty != self.stated_qty:
            return f"{where}: {self.qty} on order, not {self.stated_qty}"
        if self.due_date != self.stated_due:
            return f"{where}: {po} now due {_day(self.due_date)}, not {_day(self.stated_due)}"
        if is_overdue(self.due_date, today) != self.stated_overdue:
            return f"{where}: {po} is overdue (was due {_day(self.due_date)})"
        if template_id is not None:  # a notice's template goes by its type, not the status
            ref = templates.get(self.status_id) if self.status_id is not None else None
            if ref is None or ref.id != template_id:
                return f"{where}: {po} has a status with another email (or none)"
        return None


def _day(value: date | None) -> str:
    return f"{value.day} {value:%b}" if value else "no date"


@dataclass
class Decision:
    """Which waiting emails go (and why), and what the emails queued instead announce."""

    reasons: dict[int, str] = field(default_factory=dict)  # email id -> why superseded
    # (sales order id, template id) -> the associations its new email announces
    groups: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    events: dict[tuple[int, int], str] = field(default_factory=dict)  # what each new email says


def decide(
    waiting: Sequence[Waiting],
    stated: Mapping[int, Sequence[StatedLine]],
    templates: Mapping[int, TemplateRef],
    fresh: Mapping[int, tuple[int, int]],
    *,
    today: date,
    event: EmailEvent | None,
) -> Decision:
    """The rule, on values: `fresh` maps each new link (association id) to the sales
    order and template that announce it; `stated` holds each waiting email's links as
    they stand after the change."""
    out = Decision()
    for w in waiting:
        template_id = None if w.event == NOTICE else w.template_id
        for line in stated.get(w.id, ()):
            why = line.why_untrue(template_id, templates, today)
            if why is not None:
                out.reasons[w.id] = why
                break
    # New links join the waiting email of their order and template: it goes, and one
    # email says both.
    joined = set(fresh.values())
    for w in waiting:
        if w.id not in out.reasons and w.event != NOTICE and (w.order_id, w.template_id) in joined:
            out.reasons[w.id] = "lines linked since join it"
    # The links a superseded email states that are still true move to the template their
    # PO line's status has now; a waiting email there goes too, so that one email says all.
    carried: dict[int, tuple[int, int]] = {}
    for w in waiting:
        if w.id in out.reasons and w.event != NOTICE:
            for line in stated.get(w.id, ()):
                ref = templates.get(line.status_id) if line.status_id is not None else None
                if line.active and ref is not None:
                    carried[line.association_id] = (w.order_id, ref.id)
    landing = set(carried.values())
    for w in waiting:
        if w.id not in out.reasons and w.event != NOTICE and (w.order_id, w.template_id) in landing:
            out.reasons[w.id] = "lines from another email join it"
            for line in stated.get(w.id, ()):
                carried[line.association_id] = (w.order_id, w.template_id or 0)
    first: dict[tuple[int, int], str] = {}
    for w in waiting:
        if w.id in out.reasons and w.event != NOTICE and w.template_id is not None:
            first.setdefault((w.order_id, w.template_id), w.event)
    for assoc_id, key in (carried | dict(fresh)).items():
        out.groups.setdefault(key, []).append(assoc_id)
    for key, ids in out.groups.items():
        if event is not None and any(i in fresh for i in ids):
            out.events[key] = event.value
        else:
            out.events[key] = first.get(key, (event or EmailEvent.REALLOCATION).value)
    return out
