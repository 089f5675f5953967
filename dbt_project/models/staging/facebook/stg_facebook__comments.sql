with

source as (
    select * from {{ source('facebook', 'facebook__comments') }}
    where {{ validated_partitions('facebook') }}
),

renamed as (
    select
        comment_id,
        'facebook'::text as platform,
        handle,
        post_id,
        author_id as author_key,
        -- a reply answers its parent's author; a top-level comment answers the Page
        coalesce(
            payload -> 'data' -> 'parent' -> 'from' ->> 'id',
            payload -> 'request' ->> 'account_id'
        ) as in_reply_to_key,
        parent_id as parent_comment_id,
        created_at as commented_at,
        (_interval_start at time zone 'utc')::date as commented_date,
        payload -> 'data' ->> 'message' as comment_text,
        null::text as language_code,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
