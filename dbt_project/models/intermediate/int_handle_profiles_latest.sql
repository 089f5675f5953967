{#- Each registry handle's latest validated profile observation, with its checks. What
    dim_handles shows and what the profile snapshot records: the latest by observation day,
    so a backfill of an older day never replaces a newer observation. The observations come
    from int_handle_profile_observations_latest (one per handle, kept incrementally), not
    from every day of history; the checks are evaluated here, on the current policy. -#}
with

handles as (
    select * from {{ ref('int_handles_policy_checked') }}
),

profiles as (
    select * from {{ ref('int_handle_profile_observations_latest') }}
),

{{ handle_profile_checks() }},

latest as (
    select distinct on (handle_key)
        *,
        -- the end of the observed day (UTC): when the profile was as shown
        (observed_date + 1)::timestamp as observed_day_end_at
    from final
    order by handle_key asc, observed_date desc, observed_at desc
)

select * from latest
