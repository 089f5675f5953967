"""Great Expectations 1.x suites, one module per suite, and the runner that records results.

Each suite module defines ``SUITE`` (a :class:`expectations.base.SuiteSpec`): the batch
query and a function building the expectations for one batch. Every expectation carries a
``severity`` in its ``meta``: ``blocking`` failures quarantine the batch (the day is not
published), ``warning`` failures are recorded and publication goes on.
"""
