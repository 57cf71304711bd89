"""bopo: link back-ordered sales-order lines to undelivered purchase-order lines."""

__version__ = "0.1.0"
