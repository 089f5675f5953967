with

source as (
    select * from {{ source('youtube', 'youtube__profiles') }}
    where {{ validated_partitions('youtube') }}
),

renamed as (
    select
        handle || '|' || (_interval_start at time zone 'utc')::date as profile_key,
        'youtube'::text as platform,
        handle,
        user_id as platform_user_id,
        (_interval_start at time zone 'utc')::date as observed_date,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        payload -> 'data' -> 'snippet' ->> 'title' as display_name,
        payload -> 'data' -> 'snippet' ->> 'description' as bio,
        null::text as website_url,
        null::text as link_urls,
        payload -> 'data' -> 'snippet' -> 'thumbnails' -> 'default' ->> 'url' as avatar_url,
        {{ avatar_phash('payload') }} as avatar_phash,
        payload -> 'avatar' ->> 'sha256' as avatar_sha256,
        null::boolean as is_verified,
        {{ safe_bigint("payload -> 'data' -> 'statistics' ->> 'subscriberCount'") }} as followers_count,
        null::bigint as following_count,
        {{ safe_bigint("payload -> 'data' -> 'statistics' ->> 'videoCount'") }} as post_count_total,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
