"""Operators: each makes one child program from parents."""
