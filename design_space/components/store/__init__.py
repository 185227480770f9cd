"""Store: indexes and stores that hold records (BM25, dense, hybrid, graph, tiers, neural)."""
