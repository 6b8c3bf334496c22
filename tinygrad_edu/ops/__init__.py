"""The backward rules: one ``Function`` per op, grouped by family (one file per family)."""
