{#- Each registry handle's latest validated profile observation, with its checks. What
    dim_handles shows and what the profile snapshot records: the latest by observation day,
    so a backfill of an older day never replaces a newer observation. -#}
with

observations as (
    select * from {{ ref('int_handle_profiles_checked') }}
),

final as (
    select distinct on (handle_key)
        *,
        -- the end of the observed day (UTC): when the profile was as shown
        (observed_date + 1)::timestamp as observed_day_end_at
    from observations
    order by handle_key asc, observed_date desc, observed_at desc
)

select * from final
