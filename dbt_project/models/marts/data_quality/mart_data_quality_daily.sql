{#- Auditors' view of the data-quality trail, in `marts` so the BI role can read it (it has
    no access to `audit`). Small: rebuilt in full on every run. -#}

with

dq_runs as (
    select * from {{ source('audit', 'dq_runs') }}
),

raw_loads as (
    select
        platform,
        entity,
        (interval_start at time zone 'utc')::date as batch_date,
        max(loaded_at) as last_loaded_at
    from {{ source('audit', 'raw_loads') }}
    group by 1, 2, 3
),

ranked as (
    select
        *,
        row_number() over (
            partition by batch_date, coalesce(platform, ''), suite_name
            order by finished_at desc, dq_run_id desc
        ) as recency
    from dq_runs
),

aggregated as (
    select
        batch_date,
        coalesce(platform, 'marts') as platform,
        coalesce(entity, suite_name) as entity,
        suite_name,
        count(*) as runs,
        count(*) filter (where success) as passed_runs,
        max(finished_at) as last_run_at
    from dq_runs
    group by 1, 2, 3, 4
),

latest as (
    select
        batch_date,
        coalesce(platform, 'marts') as platform,
        suite_name,
        success as is_latest_run_passed,
        blocking_failures,
        warning_failures,
        expectations,
        rows_checked,
        summary as latest_summary
    from ranked
    where recency = 1
),

final as (
    select
        aggregated.batch_date,
        aggregated.platform,
        aggregated.entity,
        aggregated.suite_name,
        aggregated.runs,
        aggregated.passed_runs,
        round(aggregated.passed_runs::numeric / aggregated.runs, 4) as pass_rate,
        latest.is_latest_run_passed,
        -- a raw batch whose latest validation failed is held back from the marts
        aggregated.platform <> 'marts' and not latest.is_latest_run_passed as is_quarantined,
        latest.blocking_failures,
        latest.warning_failures,
        latest.expectations,
        latest.rows_checked,
        latest.latest_summary,
        aggregated.last_run_at,
        raw_loads.last_loaded_at,
        -- hours from the end of the data interval until its raw batch was loaded
        round(
            (
                extract(
                    epoch from raw_loads.last_loaded_at
                    - ((aggregated.batch_date + 1)::timestamp at time zone 'utc')
                ) / 3600
            )::numeric,
            2
        ) as freshness_hours
    from aggregated
    inner join latest
        on
        aggregated.batch_date = latest.batch_date
        and aggregated.platform = latest.platform
        and aggregated.suite_name = latest.suite_name
    left join raw_loads
        on
        aggregated.batch_date = raw_loads.batch_date
        and aggregated.platform = raw_loads.platform
        and aggregated.entity = raw_loads.entity
)

select * from final
