"""Reusable building blocks for memory programs, grouped by stage: encode, store, retrieve, manage.

Every module here runs inside a sandbox, so it imports only the standard library, numpy,
torch, bm25s, networkx and design_space. Programs import them as
``from design_space.components.<stage>.<module> import ...``.
"""
