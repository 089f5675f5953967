with

source as (
    select * from {{ source('x', 'x__profiles') }}
    where {{ validated_partitions('x') }}
),

renamed as (
    select
        handle || '|' || (_interval_start at time zone 'utc')::date as profile_key,
        'x'::text as platform,
        handle,
        user_id as platform_user_id,
        (_interval_start at time zone 'utc')::date as observed_date,
        (payload ->> 'observed_at')::timestamptz as observed_at,
        payload -> 'data' ->> 'name' as display_name,
        payload -> 'data' ->> 'description' as bio,
        payload -> 'data' ->> 'url' as website_url,
        -- the links the profile shows, expanded (X shortens them to t.co in url and bio)
        nullif(array_to_string(array(
            select jsonb_array_elements_text(
                jsonb_path_query_array(payload, '$.data.entities.*.urls[*].expanded_url')
            )
        ), ' '), '') as link_urls,
        payload -> 'data' ->> 'profile_image_url' as avatar_url,
        {{ avatar_phash('payload') }} as avatar_phash,
        payload -> 'avatar' ->> 'sha256' as avatar_sha256,
        coalesce((payload -> 'data' ->> 'verified')::boolean, false) as is_verified,
        {{ safe_bigint("payload -> 'data' -> 'public_metrics' ->> 'followers_count'") }} as followers_count,
        {{ safe_bigint("payload -> 'data' -> 'public_metrics' ->> 'following_count'") }} as following_count,
        {{ safe_bigint("payload -> 'data' -> 'public_metrics' ->> 'tweet_count'") }} as post_count_total,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
