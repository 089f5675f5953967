with

source as (
    select * from {{ source('facebook', 'facebook__profiles') }}
    where {{ validated_partitions('facebook') }}
),

renamed as (
    select
        handle || '|' || (_interval_start at time zone 'utc')::date as profile_key,
        'facebook'::text as platform,
        handle,
        page_id as platform_user_id,
        (_interval_start at time zone 'utc')::date as observed_date,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        payload -> 'data' ->> 'name' as display_name,
        payload -> 'data' ->> 'about' as bio,
        payload -> 'data' ->> 'website' as website_url,
        payload -> 'data' ->> 'website' as link_urls,
        payload -> 'data' -> 'picture' -> 'data' ->> 'url' as avatar_url,
        {{ avatar_phash('payload') }} as avatar_phash,
        payload -> 'avatar' ->> 'sha256' as avatar_sha256,
        coalesce(
            (payload -> 'data' ->> 'verification_status') in ('blue_verified', 'gray_verified'),
            false
        ) as is_verified,
        {{ safe_bigint("payload -> 'data' ->> 'followers_count'") }} as followers_count,
        null::bigint as following_count,
        null::bigint as post_count_total,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
