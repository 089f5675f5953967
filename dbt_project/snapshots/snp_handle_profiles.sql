{% snapshot snp_handle_profiles %}

{{
    config(
        schema='marts',
        unique_key='handle_key',
        strategy='check',
        check_cols=[
            'display_name', 'bio', 'website_url', 'link_urls', 'avatar_url', 'avatar_phash',
            'is_verified'
        ],
        updated_at='observed_day_end_at',
        pre_hook="select pg_advisory_xact_lock(hashtext('missionpulse-snp-handle-profiles'))"
    )
}}

    select
        handle_key,
        mission_id,
        platform,
        handle,
        observed_date,
        display_name,
        bio,
        website_url,
        link_urls,
        avatar_url,
        avatar_phash,
        avatar_sha256,
        is_verified,
        followers_count,
        observed_day_end_at
    from {{ ref('int_handle_profiles_latest') }}

{% endsnapshot %}
