{#- The policy's profile checks on profile observations: the CTEs `joined`, `checked` and
    `final` of a model that defines `handles` (int_handles_policy_checked) and `profiles`
    (observations: platform, handle, platform_user_id, observed_date, observed_at,
    display_name, bio, website_url, link_urls, avatar_url, avatar_phash, avatar_sha256,
    is_verified, followers_count, interval_start). Shared by int_handle_profiles_checked
    (every observation) and int_handle_profiles_latest (each handle's latest), so both
    evaluate the current policy the same way. -#}
{% macro handle_profile_checks() %}
joined as (
    select
        handles.*,
        profiles.platform_user_id,
        profiles.observed_date,
        profiles.observed_at,
        profiles.display_name,
        profiles.bio,
        profiles.website_url,
        profiles.link_urls,
        profiles.avatar_url,
        profiles.avatar_phash,
        profiles.avatar_sha256,
        profiles.is_verified,
        profiles.followers_count,
        profiles.interval_start,
        {{ hamming_distance('profiles.avatar_phash', 'handles.avatar_reference_phash') }}
            as avatar_hamming_distance
    from handles
    inner join profiles
        on handles.platform = profiles.platform
        and lower(handles.handle) = lower(profiles.handle)
),

checked as (
    select
        *,
        display_name ~ display_name_regex as is_display_name_passed,
        case
            when coalesce(bio, website_url, link_urls) is not null
                then strpos(
                        lower(concat_ws(' ', bio, website_url, link_urls)),
                        bio_required_link_normalised
                    ) > 0
        end as is_bio_link_passed,
        strpos(lower(bio), lower(bio_required_text)) > 0 as is_bio_text_passed,
        avatar_hamming_distance <= avatar_max_hamming_distance as is_avatar_passed,
        case when is_verification_required then is_verified else true end
            as is_verification_passed
    from joined
),

final as (
    select
        *,
        case
            when not is_display_name_passed
                then format(
                        '%s display name "%s" does not match %s', platform, display_name, display_name_pattern
                    )
        end as display_name_failure,
        case
            when not is_bio_link_passed
                then format('%s bio and website do not carry the link %s', platform, bio_required_link)
        end as bio_link_failure,
        case
            when not is_bio_text_passed
                then format('%s bio does not carry "%s"', platform, bio_required_text)
        end as bio_text_failure,
        case
            when not is_avatar_passed
                then format(
                        '%s profile picture is %s bits from the reference emblem (at most %s allowed)',
                        platform,
                        avatar_hamming_distance,
                        avatar_max_hamming_distance
                    )
        end as avatar_failure,
        case
            when not is_verification_passed
                then format('%s account %s is not verified', platform, handle)
        end as verification_failure
    from checked
)
{% endmacro %}
