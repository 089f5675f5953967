"""The scorecard tests' marts fixture: the mart columns the scorecard reads and a few rows
in 2023 weeks (2023-W10 and the week before), loaded by conftest.py into a database of its own."""

from __future__ import annotations

FIXTURE_DB = "scorecard_fixture"
PARTIAL_DB = "scorecard_partial"

# table -> columns the scorecard reads (types as dbt builds them)
MARTS: dict[str, str] = {
    "dim_missions": "mission_id text, mission_name text, region text",
    "fct_mission_daily_engagement": (
        "mission_id text, platform text, activity_date date, followers_count bigint,"
        " posts bigint, interactions numeric"
    ),
    "fct_mission_daily_sentiment": (
        "mission_id text, platform text, activity_date date, comments_scored bigint,"
        " positive_comments bigint, negative_comments bigint, negative_share numeric,"
        " baseline_negative_share_mean numeric, is_negative_spike boolean"
    ),
    "fct_mission_compliance": (
        "mission_id text, week_start_date date, compliance_score numeric, failed_checks text,"
        " not_evaluated_checks text, is_handle_naming_passed boolean,"
        " is_bio_link_passed boolean, is_reply_time_passed boolean"
    ),
    "mart_leaderboard": (
        "week_start_date date, mission_id text, region text, followers_end_of_week numeric,"
        " interactions_per_post numeric, posts_per_day numeric, answered_share numeric,"
        " compliance_score_change numeric,"
        " most_followed_rank bigint, most_followed_region_rank bigint,"
        " most_effective_rank bigint, most_effective_region_rank bigint,"
        " most_active_rank bigint, most_active_region_rank bigint,"
        " most_conversational_rank bigint, most_conversational_region_rank bigint,"
        " most_improved_compliance_rank bigint, most_improved_compliance_region_rank bigint"
    ),
    "mart_data_quality_daily": (
        "batch_date date, platform text, suite_name text, runs bigint, passed_runs bigint,"
        " is_latest_run_passed boolean, is_quarantined boolean, latest_summary text,"
        " freshness_hours numeric"
    ),
    "mart_dbt_tests_daily": "run_date date, tests_run bigint, tests_failed bigint",
}

ALPHA = 'Embassy <Alpha> & "Co"'
BETA = "High Commission Beta"
GAMMA = "Consulate Gamma"

ROWS: dict[str, list[tuple[object, ...]]] = {
    "dim_missions": [("m1", ALPHA, "Europe"), ("m2", BETA, "Asia"), ("m3", GAMMA, "Europe")],
    # 2023-W10 (2023-03-06 .. 03-12) and the week before, 2023-W09
    "fct_mission_daily_engagement": [
        ("m1", "x", "2023-03-06", 1000, 2, 100),
        ("m1", "x", "2023-03-07", 1010, 1, 50),
        ("m2", "facebook", "2023-03-06", 500, 3, 300),
        ("m3", "x", "2023-03-07", 200, 0, 7),
        ("m1", "x", "2023-03-01", 900, 4, 200),
    ],
    "fct_mission_daily_sentiment": [
        ("m1", "x", "2023-03-06", 10, 6, 2, 0.2, 0.15, False),
        ("m2", "facebook", "2023-03-06", 8, 1, 5, 0.625, 0.1, True),
        ("m1", "x", "2023-03-01", 5, 3, 1, 0.2, None, False),
    ],
    "fct_mission_compliance": [
        (
            "m1",
            "2023-03-06",
            62.5,
            "handle_naming: x handle <EmbAlpha> does not match ^Pak[A-Z]+$"
            " | bio_link: x bio lacks mofa.example",
            None,
            False,
            False,
            True,
        ),
        ("m2", "2023-03-06", 100.0, "", None, True, True, True),
        (
            "m3",
            "2023-03-06",
            40.0,
            "reply_time: x median reply time 30.0 h is above the 24 h target",
            "avatar",
            True,
            True,
            False,
        ),
        ("m1", "2023-02-27", 50.0, "bio_link: x bio lacks mofa.example", None, True, False, None),
    ],
    "mart_leaderboard": [
        ("2023-03-06", "m1", "Europe", 1010, 50, 1.5, 0.5, 12.5, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1),
        ("2023-03-06", "m2", "Asia", 500, 100, 3, 0.25, None, 2, 1, 1, 1, 1, 1, 2, 1, None, None),
        (
            "2023-03-06",
            "m3",
            "Europe",
            200,
            None,
            0,
            None,
            None,
            3,
            2,
            None,
            None,
            3,
            2,
            None,
            None,
            None,
            None,
        ),
    ],
    "mart_data_quality_daily": [
        ("2023-03-06", "x", "raw__x__posts", 2, 1, True, False, "ok", 2.5),
        ("2023-03-06", "facebook", "raw__facebook__posts", 1, 1, True, False, "ok", 3.0),
        (
            "2023-03-07",
            "x",
            "raw__x__posts",
            1,
            0,
            False,
            True,
            "raw__x__posts: 3 null post ids <b>bad</b>",
            30.0,
        ),
        (
            "2023-03-07",
            "marts",
            "marts__fct_mission_daily_engagement",
            1,
            1,
            True,
            False,
            "ok",
            None,
        ),
    ],
    "mart_dbt_tests_daily": [("2023-03-06", 100, 0), ("2023-03-07", 100, 2)],
}
