"""Great Expectations Data Docs, built into a local folder on every run.

GX 1.x writes Data Docs to a filesystem site only; the site lives in the state dir
(``.missionpulse/data_docs/``, see :func:`missionpulse.settings.state_dir`). Each validation
gets its page under ``validations/<suite>/<dq_run_id>/``; pages of earlier runs stay, and
``index.html`` lists the validations of the latest process (one ``missionpulse run``). The
authoritative record is ``audit.dq_runs`` / ``audit.dq_results``; this is the readable view.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

SITE = "local"


def docs_dir() -> Path:
    from missionpulse import settings

    return settings.state_dir() / "data_docs"


def build_data_docs(target: Path | None = None) -> Path | None:
    """Write this process's validations into the site; returns its index (None if none).

    Never fails the pipeline: Data Docs are a view of results already recorded in audit.
    """
    from expectations import runner

    if not runner.RESULTS:
        return None
    target = target or docs_dir()
    try:
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        context = runner._context()
        if SITE not in (context.get_site_names() or []):
            target.mkdir(parents=True, exist_ok=True)
            context.add_data_docs_site(
                site_name=SITE,
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(target),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        keys = []
        for suite, run_name, batch_date, result in runner.RESULTS:
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
                run_id=RunIdentifier(run_name=run_name),
                batch_identifier=batch_date,
            )
            context.validation_results_store.set(key, result)
            keys.append(key)
        runner.RESULTS.clear()
        # only the new pages (a demo runs many days in one process), and the index
        context.build_data_docs(site_names=[SITE], resource_identifiers=keys)
    except Exception:  # noqa: BLE001 (see the docstring)
        log.exception("could not build the Data Docs in %s", target)
        return None
    index = target / "index.html"
    log.info("Data Docs: %s", index)
    return index
