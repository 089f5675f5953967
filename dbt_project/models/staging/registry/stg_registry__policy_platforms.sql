with

source as (
    select * from {{ source('registry', 'registry__policy_platforms') }}
),

renamed as (
    select
        platform,
        handle_pattern,
        handle_pattern_pg,
        min_posts_per_week,
        is_verification_required,
        is_required
    from source
)

select * from renamed
