"""bopo's tables. Quantities are whole units; the CHECKs keep them sane.

`po_lines.qty_associated` is the sum of the line's active associations, kept by
database triggers (see the first migration), so the CHECK on it lets the
database itself refuse over-association, whatever the application does.
`stock_items.waiting_lines` and `waiting_units` (the item's worklist lines waiting
for stock or a PO line, and their units) are kept by triggers on so_lines the same way
(migration 0012).
"""

from bopo.db.models.access import ApiToken, SignInFailure, User, WebSession
from bopo.db.models.columns import Code, Email, Name, search_index
from bopo.db.models.emails import EmailTemplate, PendingEmail, PendingEmailAssociation
from bopo.db.models.history import AllocationDecision, AuditEvent, JobRun, WebhookDelivery
from bopo.db.models.orders import (
    PO_LINE_OPEN_SQL,
    Association,
    Customer,
    PoLine,
    PoLineStatus,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    SalesOrder,
    SoLine,
    StockItem,
    Supplier,
)
from bopo.db.models.settings import RuntimeSetting

__all__ = [
    "PO_LINE_OPEN_SQL",
    "AllocationDecision",
    "ApiToken",
    "Association",
    "AuditEvent",
    "Code",
    "Customer",
    "Email",
    "EmailTemplate",
    "JobRun",
    "Name",
    "PendingEmail",
    "PendingEmailAssociation",
    "PoLine",
    "PoLineStatus",
    "PurchaseOrder",
    "Receipt",
    "ReceiptLine",
    "RuntimeSetting",
    "SalesOrder",
    "SignInFailure",
    "SoLine",
    "StockItem",
    "Supplier",
    "User",
    "WebSession",
    "WebhookDelivery",
    "search_index",
]
