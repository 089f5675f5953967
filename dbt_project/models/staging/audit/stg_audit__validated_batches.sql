with

source as (
    select * from {{ source('audit', 'dq_runs') }}
    -- raw batches only: a mart suite's run (platform null) does not gate raw partitions
    where platform is not null
),

latest_per_suite as (
    select distinct on (platform, batch_date, suite_name)
        platform,
        batch_date,
        suite_name,
        success,
        finished_at
    from source
    order by platform asc, batch_date asc, suite_name asc, finished_at desc
),

validated as (
    select
        platform,
        batch_date,
        batch_date::timestamp at time zone 'utc' as interval_start,
        max(finished_at) as validated_at
    from latest_per_suite
    group by platform, batch_date
    having bool_and(success)
)

select * from validated
