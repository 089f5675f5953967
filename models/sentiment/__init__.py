"""Sentiment of audience comments: a fastText-style hashed n-gram classifier (PyTorch)."""
