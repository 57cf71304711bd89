"""Keeping the promise: why lines got what they got, and what a change would do."""
