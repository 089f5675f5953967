"""Extraction from the platforms' APIs into the landing zone and the ``raw`` schema.

One package per platform plus ``common`` (HTTP, errors, pagination, landing, load). Nothing
here imports Airflow: the same ``run(window)`` entry points serve the DAGs and the CLI.
"""
