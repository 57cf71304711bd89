"""Data in and out: import files and shops' formats, exports, the drop folder, webhooks."""
