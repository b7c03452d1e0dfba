"""Test-only helpers that write small files in official layouts."""
