with

{# Ephemeral: compiled into fct_mission_responsiveness with the run's weeks, so the comment
   scans read only those weeks' partitions and the reply window after them. #}

comments as (
    {% for platform in all_platforms() -%}
        select
            platform,
            handle,
            comment_id,
            parent_comment_id,
            author_key,
            comment_text,
            commented_at,
            commented_date
        from {{ ref('stg_' ~ platform ~ '__comments') }}
        where {{ in_run_weeks_partitions('interval_start', extra_days=reply_window_days()) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

mission_accounts as (
    {% for platform in all_platforms() -%}
        select distinct
            platform,
            platform_user_id
        from {{ ref('stg_' ~ platform ~ '__profiles') }}
        where {{ in_run_weeks_partitions('interval_start', extra_days=reply_window_days()) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

mission_account_ids as (
    select distinct
        platform,
        platform_user_id
    from mission_accounts
),

classified as (
    select
        comments.*,
        mission_account_ids.platform_user_id is not null as is_mission_reply
    from comments
    left join mission_account_ids
        on comments.platform = mission_account_ids.platform
        and comments.author_key = mission_account_ids.platform_user_id
),

first_answers as (
    -- the mission's first reply to each comment (X: replied_to; Graph API: parent;
    -- YouTube: the thread's top-level comment)
    select
        platform,
        parent_comment_id as comment_id,
        min(commented_at) as answered_at
    from classified
    where is_mission_reply and parent_comment_id is not null
    group by 1, 2
),

audience_comments as (
    select
        classified.platform,
        lower(classified.handle) as handle,
        classified.comment_id,
        classified.commented_at,
        date_trunc('week', classified.commented_date)::date as week_start_date,
        coalesce(classified.comment_text ~ '[?？؟]', false) as is_question,
        first_answers.answered_at
    from classified
    left join first_answers
        on classified.platform = first_answers.platform
        and classified.comment_id = first_answers.comment_id
        -- an answer counts only within the reply window after the comment's week
        and first_answers.answered_at < (
            date_trunc('week', classified.commented_date)::date + 7 + {{ reply_window_days() }}
        )::timestamp at time zone 'utc'
    where not classified.is_mission_reply
        and {{ in_run_weeks('classified.commented_date') }}
),

final as (
    select
        platform,
        handle,
        comment_id,
        week_start_date,
        commented_at,
        is_question,
        answered_at is not null as is_answered,
        answered_at,
        round(
            (greatest(extract(epoch from answered_at - commented_at), 0) / 3600.0)::numeric, 4
        ) as reply_hours
    from audience_comments
)

select * from final
