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
        -- the comment it answers; null for a reply to the post itself
        nullif(
            jsonb_path_query_first(
                payload, '$.data.referenced_tweets[*] ? (@.type == "replied_to").id'
            ) #>> '{}',
            conversation_id
        ) as parent_comment_id,
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
