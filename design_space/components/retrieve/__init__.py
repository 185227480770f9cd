"""Retrieve: scoring, fusion, diversity, expansion and packing of recalled items."""
