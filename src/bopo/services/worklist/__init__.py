"""The backorder worklist: lines waiting, retrying them, linking them by hand."""
