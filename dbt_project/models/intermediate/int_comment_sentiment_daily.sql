with

{# Ephemeral: compiled into fct_mission_daily_sentiment with the run's interval, so each
   comment scan reads only the partitions of the run's own days. #}

comments as (
    {% for platform in all_platforms() -%}
        select
            platform,
            handle,
            comment_id,
            author_key,
            commented_date,
            interval_start
        from {{ ref('stg_' ~ platform ~ '__comments') }}
        where {{ in_run_days_partitions('interval_start') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

mission_accounts as (
    -- a comment by the mission's own account is a reply, not the audience's voice
    {% for platform in all_platforms() -%}
        select distinct
            platform,
            platform_user_id,
            interval_start
        from {{ ref('stg_' ~ platform ~ '__profiles') }}
        where {{ in_run_days_partitions('interval_start') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

audience_comments as (
    select comments.*
    from comments
    where not exists (
            select 1 from mission_accounts
            where mission_accounts.platform = comments.platform
                and mission_accounts.platform_user_id = comments.author_key
                and mission_accounts.interval_start = comments.interval_start
        )
),

comment_scores as (
    -- one score per comment: the pinned model version (var sentiment_model_version), or
    -- else the most recently scored version of that comment; looked up per comment through
    -- the table's primary key, so the cost follows the day's comments, not the history
    select
        audience_comments.platform,
        lower(audience_comments.handle) as handle,
        audience_comments.commented_date as activity_date,
        latest_score.model_version,
        latest_score.sentiment_label,
        latest_score.is_language_supported
    from audience_comments
    cross join lateral (
        select
            scores.model_version,
            scores.sentiment_label,
            scores.is_language_supported
        from {{ ref('stg_ml__comment_sentiment') }} as scores
        where scores.platform = audience_comments.platform
            and scores.comment_id = audience_comments.comment_id
        {%- if var('sentiment_model_version', none) %}
            and scores.model_version = '{{ var("sentiment_model_version") }}'
            {%- endif %}
        order by scores.scored_at desc, scores.model_version desc
        limit 1
    ) as latest_score
),

final as (
    select
        platform,
        handle,
        activity_date,
        count(*) as comments_scored,
        count(*) filter (where sentiment_label = 'positive') as positive_comments,
        count(*) filter (where sentiment_label = 'neutral') as neutral_comments,
        count(*) filter (where sentiment_label = 'negative') as negative_comments,
        count(*) filter (where is_language_supported is false) as unsupported_language_comments,
        string_agg(distinct model_version, ',' order by model_version) as model_version
    from comment_scores
    group by 1, 2, 3
)

select * from final
