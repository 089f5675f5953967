{{
    config(
        materialized='incremental',
        schema='marts',
        unique_key=['platform', 'handle'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns'
    )
}}

{#- The latest validated profile observation of each (platform, lower-cased handle), by
    observed day: what int_handle_profiles_latest checks against the current policy. Kept
    incrementally so that a daily run reads only its own partitions, not every earlier
    day's profiles (issue 9): the run's observations compete with the kept ones, a
    backfilled older day never replaces a newer observation, and kept rows of the
    partitions the run rebuilds are dropped (those partitions are read again). Its first
    build (and `dbt build --full-refresh`) reads all history, whatever the interval vars.
    In `marts` (the var marts_schema) so it is staged and published with the marts that
    depend on it. -#}

{%- set run_partitions = in_run_interval('interval_start') if is_incremental() else 'true' %}
{#- kept as observed: the staging rows and this table's own rows, in the same order -#}
{%- set observation_columns = [
    'platform_user_id', 'observed_date', 'observed_at', 'display_name', 'bio',
    'website_url', 'link_urls', 'avatar_url', 'avatar_phash', 'avatar_sha256',
    'is_verified', 'followers_count', 'interval_start'
] %}

with

observations as (
    {% for platform in all_platforms() -%}
        select
            platform,
            lower(handle) as handle,
            {{ observation_columns | join(',\n            ') }}
        from {{ ref('stg_' ~ platform ~ '__profiles') }}
        where {{ run_partitions }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {%- if is_incremental() %}
        union all
        select
            platform,
            handle,
            {{ observation_columns | join(',\n            ') }}
        from {{ this }}
        where not ({{ in_run_interval('interval_start') }})
    {%- endif %}
),

final as (
    select distinct on (platform, handle) *
    from observations
    order by platform asc, handle asc, observed_date desc, observed_at desc
)

select * from final
