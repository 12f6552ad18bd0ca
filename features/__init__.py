"""Pure per-account feature functions over contract tables, each with an explicit as-of time."""
