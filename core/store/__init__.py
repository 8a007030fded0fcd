"""Storage adapters: PostgreSQL (and later Redis). Returns domain objects; does the I/O."""
