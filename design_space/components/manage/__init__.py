"""Manage: keep memory healthy at boundaries (dedupe, forgetting, consolidation, conflicts, eviction, reflection)."""
