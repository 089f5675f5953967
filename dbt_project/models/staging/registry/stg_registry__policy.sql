with

source as (
    select * from {{ source('registry', 'registry__policy') }}
),

renamed as (
    select
        ministry_name,
        ministry_country,
        display_name_pattern,
        display_name_pattern_pg,
        bio_required_link,
        bio_required_link_normalised,
        bio_required_text,
        avatar_reference_image,
        avatar_reference_phash,
        avatar_max_hamming_distance,
        max_dormant_days,
        reply_time_target_hours,
        config_sha256,
        loaded_at
    from source
)

select * from renamed
