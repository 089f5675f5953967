with

source as (
    select * from {{ source('instagram', 'instagram__profiles') }}
    where {{ validated_partitions('instagram') }}
),

renamed as (
    select
        handle || '|' || (_interval_start at time zone 'utc')::date as profile_key,
        'instagram'::text as platform,
        handle,
        user_id as platform_user_id,
        (_interval_start at time zone 'utc')::date as observed_date,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        payload -> 'data' ->> 'name' as display_name,
        payload -> 'data' ->> 'biography' as bio,
        payload -> 'data' ->> 'website' as website_url,
        payload -> 'data' ->> 'website' as link_urls,
        payload -> 'data' ->> 'profile_picture_url' as avatar_url,
        {{ avatar_phash('payload') }} as avatar_phash,
        payload -> 'avatar' ->> 'sha256' as avatar_sha256,
        -- the Graph API does not say whether an Instagram account is verified
        null::boolean as is_verified,
        {{ safe_bigint("payload -> 'data' ->> 'followers_count'") }} as followers_count,
        {{ safe_bigint("payload -> 'data' ->> 'follows_count'") }} as following_count,
        {{ safe_bigint("payload -> 'data' ->> 'media_count'") }} as post_count_total,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
