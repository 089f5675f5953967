{{
    config(
        materialized='incremental',
        unique_key=['mission_id', 'platform', 'activity_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['activity_date']},
            {'columns': ['mission_id', 'platform', 'activity_date'], 'unique': True}
        ]
    )
}}

{#- The negative-spike rule (documented in _sentiment__models.yml), tunable per ministry. -#}
{%- set baseline_days = var('sentiment_spike_baseline_days', 28) -%}
{%- set min_baseline_days = var('sentiment_spike_min_baseline_days', 7) -%}
{%- set min_negative = var('sentiment_spike_min_negative_comments', 5) -%}
{%- set spike_sd = var('sentiment_spike_sd', 2) -%}

with

engagement as (
    -- the mart's rows: every handle-day the engagement mart has, over the run's own days
    select
        mission_id,
        platform,
        activity_date,
        handle,
        comments as audience_comments
    from {{ ref('fct_mission_daily_engagement') }}
    {% if run_interval_set() -%}
    where activity_date >= '{{ var("start_date") }}'::date
        and activity_date < '{{ var("end_date") }}'::date
    {%- endif %}
),

sentiment_daily as (
    select * from {{ ref('int_comment_sentiment_daily') }}
),

counted as (
    select
        engagement.mission_id,
        engagement.platform,
        engagement.activity_date,
        engagement.handle,
        engagement.audience_comments,
        coalesce(sentiment_daily.comments_scored, 0) as comments_scored,
        coalesce(sentiment_daily.positive_comments, 0) as positive_comments,
        coalesce(sentiment_daily.neutral_comments, 0) as neutral_comments,
        coalesce(sentiment_daily.negative_comments, 0) as negative_comments,
        coalesce(sentiment_daily.unsupported_language_comments, 0)
            as unsupported_language_comments,
        sentiment_daily.model_version
    from engagement
    left join sentiment_daily
        on engagement.platform = sentiment_daily.platform
        and engagement.handle = sentiment_daily.handle
        and engagement.activity_date = sentiment_daily.activity_date
),

shares as (
    select
        *,
        round(positive_comments::numeric / nullif(comments_scored, 0), 6) as positive_share,
        round(neutral_comments::numeric / nullif(comments_scored, 0), 6) as neutral_share,
        round(negative_comments::numeric / nullif(comments_scored, 0), 6) as negative_share,
        round(
            (positive_comments - negative_comments)::numeric
            / nullif(positive_comments + negative_comments, 0),
            6
        ) as net_sentiment,
        round(unsupported_language_comments::numeric / nullif(comments_scored, 0), 6)
            as unsupported_language_share
    from counted
),

prior_days as (
    -- the baseline reads the mart's own earlier rows, never the comments again
    {% if is_incremental() and run_interval_set() -%}
    select mission_id, platform, activity_date, negative_share, false as is_built_now
    from {{ this }}
    where activity_date >= '{{ var("start_date") }}'::date - {{ baseline_days }}
        and activity_date < '{{ var("start_date") }}'::date
    {%- else -%}
        select
            null::text as mission_id,
            null::text as platform,
            null::date as activity_date,
            null::numeric as negative_share,
            false as is_built_now
        where false
    {%- endif %}
),

timeline as (
    select
        mission_id,
        platform,
        activity_date,
        negative_share,
        false as is_built_now
    from prior_days
    union all
    select
        mission_id,
        platform,
        activity_date,
        negative_share,
        true as is_built_now
    from shares
),

baselines as (
    -- days without scored comments have a null share and do not count
    select
        mission_id,
        platform,
        activity_date,
        is_built_now,
        count(negative_share) over baseline_window as baseline_days,
        avg(negative_share) over baseline_window as baseline_negative_share_mean,
        stddev_samp(negative_share) over baseline_window as baseline_negative_share_sd
    from timeline
    window baseline_window as (
        partition by mission_id, platform
        order by activity_date
        range between interval '{{ baseline_days }} days' preceding
        and interval '1 day' preceding
    )
),

final as (
    select
        shares.mission_id,
        shares.platform,
        shares.activity_date,
        shares.handle,
        shares.audience_comments,
        shares.comments_scored,
        shares.positive_comments,
        shares.neutral_comments,
        shares.negative_comments,
        shares.positive_share,
        shares.neutral_share,
        shares.negative_share,
        shares.net_sentiment,
        shares.model_version,
        shares.unsupported_language_comments,
        shares.unsupported_language_share,
        baselines.baseline_days::int as baseline_days,
        round(baselines.baseline_negative_share_mean, 6) as baseline_negative_share_mean,
        round(baselines.baseline_negative_share_sd, 6) as baseline_negative_share_sd,
        coalesce(
            baselines.baseline_days >= {{ min_baseline_days }}
            and shares.negative_comments >= {{ min_negative }}
            and shares.negative_share > baselines.baseline_negative_share_mean
            + {{ spike_sd }} * coalesce(baselines.baseline_negative_share_sd, 0),
            false
        ) as is_negative_spike,
        now() as built_at
    from shares
    inner join baselines
        on shares.mission_id = baselines.mission_id
        and shares.platform = baselines.platform
        and shares.activity_date = baselines.activity_date
        and baselines.is_built_now
)

select * from final
