"""What several flows share: inputs, lists and paging, lookups, the change engine."""
