{#- Every validated profile observation of a registry handle, with the policy's profile
    checks evaluated on it: one row per (handle_key, observed_date). A check is null when
    the observation cannot say (no display name, no avatar hash, a platform that does not
    report verification); its `*_failure` text is set only when the check fails. A view
    over all history: readers filter it on interval_start (the raw partition, indexed). -#}
with

handles as (
    select * from {{ ref('int_handles_policy_checked') }}
),

profiles as (
    {% for platform in all_platforms() -%}
        select
            platform,
            handle,
            platform_user_id,
            observed_date,
            observed_at,
            display_name,
            bio,
            website_url,
            link_urls,
            avatar_url,
            avatar_phash,
            avatar_sha256,
            is_verified,
            followers_count,
            interval_start
        from {{ ref('stg_' ~ platform ~ '__profiles') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

{{ handle_profile_checks() }}

select * from final
