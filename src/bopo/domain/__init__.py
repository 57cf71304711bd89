"""The pure core: rules with no database, clock or I/O."""
