"""Shared pieces of the DAGs: assets, default arguments, callbacks."""
