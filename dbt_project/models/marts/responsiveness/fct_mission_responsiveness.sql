{{
    config(
        materialized='incremental',
        unique_key=['mission_id', 'platform', 'week_start_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['week_start_date']},
            {'columns': ['mission_id', 'platform', 'week_start_date'], 'unique': True}
        ]
    )
}}

with

engagement as (
    select
        mission_id,
        platform,
        handle,
        activity_date,
        mission_replies
    from {{ ref('fct_mission_daily_engagement') }}
    where {{ in_run_weeks('activity_date') }}
),

answers as (
    select * from {{ ref('int_comment_answers') }}
),

handle_weeks as (
    -- every handle with a row in the engagement mart that week gets a row
    select
        mission_id,
        platform,
        handle,
        date_trunc('week', activity_date)::date as week_start_date,
        count(distinct activity_date) as days_observed,
        sum(mission_replies) as mission_replies
    from engagement
    group by 1, 2, 3, 4
),

answers_weekly as (
    select
        platform,
        handle,
        week_start_date,
        count(*) as audience_comments,
        count(*) filter (where is_question) as audience_questions,
        count(*) filter (where is_answered) as comments_answered,
        count(*) filter (where is_question and is_answered) as questions_answered,
        percentile_cont(0.5) within group (order by reply_hours)
        filter (where is_answered) as median_reply_hours
    from answers
    group by 1, 2, 3
),

final as (
    select
        handle_weeks.mission_id,
        handle_weeks.platform,
        handle_weeks.week_start_date,
        handle_weeks.handle,
        handle_weeks.days_observed,
        coalesce(answers_weekly.audience_comments, 0) as audience_comments,
        coalesce(answers_weekly.audience_questions, 0) as audience_questions,
        coalesce(answers_weekly.comments_answered, 0) as comments_answered,
        coalesce(answers_weekly.questions_answered, 0) as questions_answered,
        round(
            answers_weekly.comments_answered::numeric / nullif(answers_weekly.audience_comments, 0),
            6
        ) as answered_share,
        round(
            answers_weekly.questions_answered::numeric
            / nullif(answers_weekly.audience_questions, 0),
            6
        ) as questions_answered_share,
        round(answers_weekly.median_reply_hours::numeric, 4) as median_reply_hours,
        handle_weeks.mission_replies,
        now() as built_at
    from handle_weeks
    left join answers_weekly
        on handle_weeks.platform = answers_weekly.platform
        and handle_weeks.handle = answers_weekly.handle
        and handle_weeks.week_start_date = answers_weekly.week_start_date
)

select * from final
