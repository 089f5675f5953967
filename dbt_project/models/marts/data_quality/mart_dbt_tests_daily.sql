{#- dbt test results per run day (the run's start_date var), passes included. -#}

with

runs as (
    select
        invocation_id,
        (run_vars ->> 'start_date')::date as run_date
    from {{ source('audit', 'dbt_runs') }}
    where run_vars ->> 'start_date' ~ '^\d{4}-\d{2}-\d{2}$'
),

results as (
    select * from {{ source('audit', 'dbt_test_results') }}
),

final as (
    select
        runs.run_date,
        count(distinct runs.invocation_id) as invocations,
        count(results.unique_id) as tests_run,
        count(results.unique_id) filter (where results.status = 'pass') as tests_passed,
        count(results.unique_id) filter (where results.status = 'warn') as tests_warned,
        count(results.unique_id) filter (where results.status in ('fail', 'error'))
            as tests_failed,
        count(results.unique_id) filter (where results.status = 'skipped') as tests_skipped
    from runs
    inner join results on runs.invocation_id = results.invocation_id
    group by 1
)

select * from final
