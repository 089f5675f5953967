with

handles as (
    select * from {{ ref('int_handles_policy_checked') }}
),

latest_observation as (
    select * from {{ ref('int_handle_profiles_latest') }}
),

final as (
    select
        handles.handle_key,
        handles.mission_id,
        handles.platform,
        handles.handle,
        handles.platform_account_id,
        latest_observation.platform_user_id,
        handles.active_from,
        handles.active_to,
        handles.active_to is null as is_active,
        latest_observation.observed_date as last_observed_date,
        latest_observation.display_name,
        latest_observation.bio,
        latest_observation.website_url,
        latest_observation.link_urls,
        latest_observation.avatar_url,
        latest_observation.avatar_phash,
        latest_observation.avatar_sha256,
        latest_observation.is_verified,
        latest_observation.followers_count,
        handles.is_handle_naming_passed,
        latest_observation.is_display_name_passed,
        latest_observation.is_bio_link_passed,
        latest_observation.is_bio_text_passed,
        latest_observation.avatar_hamming_distance,
        latest_observation.is_avatar_passed,
        latest_observation.is_verification_passed,
        handles.handle_pattern,
        now() as built_at
    from handles
    left join latest_observation on handles.handle_key = latest_observation.handle_key
)

select * from final
