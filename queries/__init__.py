"""Queries: build the WIT query list, match captions against it, balance the pool per query."""
