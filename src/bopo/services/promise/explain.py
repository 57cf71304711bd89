"""Why a sales order's lines got what they got: their decision records, in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, SerializerFunctionWrapHandler, computed_field, model_serializer
from sqlalchemy import Connection, select

from bopo.db.models import AllocationDecision, PoLine, PurchaseOrder, SalesOrder
from bopo.domain.decisions import Candidate, DecisionKind, DecisionRecord, explain
from bopo.domain.statuses import Priority
from bopo.services.common.lookup import find_sales_order, order_lines
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.orders.outcomes import LineOutcome, load_line_outcomes

_KIND_NAMES = {
    DecisionKind.INTAKE: "intake",
    DecisionKind.WORKLIST: "worklist",
    DecisionKind.MANUAL: "manual_link",
    DecisionKind.REALLOCATION: "reallocation",
    DecisionKind.GOODS_IN_LINKED: "goods_in",
    DecisionKind.GOODS_IN_WAITING: "goods_in",
}


@dataclass(frozen=True, slots=True)
class SeenPoLine:
    """An open PO line a decision looked at, as it was at that moment."""

    po_line: str  # e.g. "PO-2 line 1"
    po_number: str | None  # None: the PO line is no longer found
    po_line_no: int | None
    due_date: date | None  # its due date then
    free: int  # its free on order then (goods in: the quantity received)
    taken: int  # what the decision linked to it (goods in: what the line got)
    chosen: bool


Record = Field(exclude=True)  # for the web page; the JSON has the figures below


@dataclass(frozen=True, slots=True)
class DecisionView:
    """One recorded decision: in words, and the figures it was made on."""

    record: Annotated[DecisionRecord, Record]
    text: str
    labels: Annotated[dict[int, str], Record]  # PO line id -> "PO-2 line 1"
    keys: Annotated[dict[int, tuple[str, int]], Record]  # -> ("PO-2", 1)
    at: datetime
    kind: str  # intake, worklist, manual_link, reallocation or goods_in
    policy: str | None
    split_allowed: bool
    need: int
    from_stock: int
    reason: str | None
    candidates: tuple[SeenPoLine, ...]
    considered: int


@dataclass(frozen=True, slots=True)
class LineExplanation:
    """Where a line stands and each decision made for it (the JSON has the line's
    outcome fields flat beside them)."""

    line: Annotated[LineOutcome, Field(exclude=True)]  # where it stands now
    decisions: tuple[DecisionView, ...]  # oldest first

    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self.line)
        data.update(handler(self))
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def now(self) -> str:
        return self.line.describe()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text(self) -> str:
        now = f"Line {self.line.line_no} ({self.line.sku} x{self.line.qty}): {self.now}."
        if not self.decisions:
            return f"{now} No allocation decision was recorded for it."
        return "\n".join([now, *(f"- {d.text}" for d in self.decisions)])


@dataclass(frozen=True, slots=True)
class OrderExplanation:
    id: int
    source: str
    number: str
    priority: str
    delivery_date: date
    lines: tuple[LineExplanation, ...]


def explain_order(
    ctx: Context, number: str, line_no: int | None = None, *, source: str | None = None
) -> OrderExplanation:
    """Every line of a sales order (or the one numbered): where it stands, and each
    allocation decision made for it, oldest first, said in words."""
    with ctx.db.read() as conn:
        order = find_sales_order(conn, number, source)
        keys = order_lines(conn, order, None if line_no is None else [line_no])
        head = conn.execute(
            select(SalesOrder.delivery_date, SalesOrder.priority).where(SalesOrder.id == order.id)
        ).one()
        today = ctx.clock().date()
        outcomes = {o.line_no: o for o in load_line_outcomes(conn, [order.id], today)[order.id]}
        records: dict[int, list[DecisionRecord]] = {k.id: [] for k in keys}
        for r in conn.execute(
            select(
                AllocationDecision.so_line_id,
                AllocationDecision.at,
                AllocationDecision.kind,
                AllocationDecision.policy,
                AllocationDecision.need,
                AllocationDecision.from_stock,
                AllocationDecision.reason,
                AllocationDecision.candidates,
                AllocationDecision.considered,
            )
            .where(AllocationDecision.so_line_id.in_(sorted(records)))
            .order_by(AllocationDecision.id)
        ):
            records[r.so_line_id].append(
                DecisionRecord.from_row(
                    at=r.at,
                    kind=r.kind,
                    policy=r.policy,
                    need=r.need,
                    from_stock=r.from_stock,
                    reason=r.reason,
                    candidates=r.candidates,
                    considered=r.considered,
                )
            )
        po_keys = _po_keys(
            conn, {c.po_line_id for rs in records.values() for r in rs for c in r.candidates}
        )
    return OrderExplanation(
        order.id,
        order.source,
        order.number,
        Priority.of_rank(head.priority).value,
        head.delivery_date,
        tuple(
            LineExplanation(
                outcomes[k.line_no],
                tuple(_view(r, po_keys, today) for r in records[k.id]),
            )
            for k in keys
        ),
    )


def _view(record: DecisionRecord, keys: dict[int, tuple[str, int]], today: date) -> DecisionView:
    def label(po_line_id: int) -> str:
        key = keys.get(po_line_id)
        return f"{key[0]} line {key[1]}" if key else f"PO line {po_line_id}"

    r = record
    seen = [c.po_line_id for c in r.candidates]
    found = {i: keys[i] for i in seen if i in keys}
    candidates = tuple(_seen(c, label(c.po_line_id), found) for c in r.candidates)
    return DecisionView(
        record=r,
        text=explain(r, label, today),
        labels={i: label(i) for i in seen},
        keys=found,
        at=r.at,
        kind=_KIND_NAMES[r.kind],
        policy=r.policy_name,
        split_allowed=r.split_allowed,
        need=r.need,
        from_stock=r.from_stock,
        reason=r.reason.value if r.reason else None,
        candidates=candidates,
        considered=r.considered,
    )


def _seen(c: Candidate, label: str, keys: dict[int, tuple[str, int]]) -> SeenPoLine:
    # a PO line no longer found has neither number: its label says which id it was
    po_number, po_line_no = keys.get(c.po_line_id, (None, None))
    return SeenPoLine(label, po_number, po_line_no, c.due_date, c.free, c.taken, c.taken > 0)


def _po_keys(conn: Connection, ids: set[int]) -> dict[int, tuple[str, int]]:
    """PO line id -> (PO number, line number)."""
    if not ids:
        return {}
    return {
        r.id: (r.number, r.line_no)
        for r in conn.execute(
            select(PoLine.id, PurchaseOrder.number, PoLine.line_no)
            .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
            .where(PoLine.id.in_(sorted(ids)))
        )
    }
