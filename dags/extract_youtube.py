"""The Airflow DAG extract_youtube: the youtube day in batches of handles, loaded, validated and
announced (see common/extract_dag.py)."""

from common.extract_dag import extract_dag

extract_dag("youtube")
