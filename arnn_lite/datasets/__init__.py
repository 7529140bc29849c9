"""Datasets, offline first (DESIGN.md §4). Each module documents where its data come from."""
