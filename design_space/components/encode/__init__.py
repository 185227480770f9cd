"""Encode: turn events into records (chunks, annotated text, facts, entities, summaries)."""
