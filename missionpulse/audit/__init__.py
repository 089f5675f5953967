"""The audit trail: dbt results kept for every invocation, the chain behind a mart row
(``trace``) and the auditors' HTML report (``report``)."""
