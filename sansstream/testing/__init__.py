"""Testing kit (being written)."""
