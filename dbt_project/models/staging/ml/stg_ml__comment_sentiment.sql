with

source as (
    select * from {{ source('ml', 'comment_sentiment') }}
),

renamed as (
    select
        platform,
        comment_id,
        model_version,
        label as sentiment_label,
        score as sentiment_score,
        scored_at,
        language as language_code,
        language_supported as is_language_supported
    from source
)

select * from renamed
