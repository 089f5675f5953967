with

source as (
    select * from {{ source('x', 'x__comments') }}
    where {{ validated_partitions('x') }}
),

renamed as (
    select
        comment_id,
        'x'::text as platform,
        handle,
        conversation_id as post_id,
        author_id as author_key,
        payload -> 'data' ->> 'in_reply_to_user_id' as in_reply_to_key,
        created_at as commented_at,
        (_interval_start at time zone 'utc')::date as commented_date,
        payload -> 'data' ->> 'text' as comment_text,
        payload -> 'data' ->> 'lang' as language_code,
        _load_id as load_id,
        _loaded_at as loaded_at,
        _interval_start as interval_start
    from source
)

select * from renamed
