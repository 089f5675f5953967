{#- The run's data interval, from vars start_date / end_date (YYYY-MM-DD, end exclusive),
    which the pipeline sets for each daily run. Without them a build covers all of raw.
    Filtering on the raw partition column (interval_start, indexed) keeps the cost of one
    more day independent of the history. -#}

{% macro run_interval_set() -%}
    {{ return(var('start_date') is not none and var('end_date') is not none) }}
{%- endmacro %}

{% macro in_run_interval(column, lookback_days=0) -%}
    {%- if run_interval_set() -%}
        {{ column }} >= ({{ run_start_date() }} - {{ lookback_days }})::timestamp at time zone 'utc'
        and {{ column }} < ('{{ var("end_date") }}'::date)::timestamp at time zone 'utc'
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- First day a run rebuilds: its start date less the restated days (late metrics). -#}
{% macro run_start_date() -%}
    ('{{ var("start_date") }}'::date - {{ var("restate_days", 0) }})
{%- endmacro %}

{#- The platforms whose staging models are unioned by the intermediate models. -#}
{% macro all_platforms() -%}
    {{ return(['x', 'facebook', 'instagram', 'youtube']) }}
{%- endmacro %}

{#- Keeps a platform staging model to the partitions that passed their data-quality run. -#}
{% macro validated_partitions(platform) -%}
    _interval_start in (
        select interval_start from {{ ref('stg_audit__validated_batches') }}
        where platform = '{{ platform }}'
    )
{%- endmacro %}

{#- A text value as bigint, or null when it is not a whole number. A CASE, so the cast is
    never evaluated on a bad value even when the planner pushes a test's predicate below
    the staging view's partition filter (a quarantined 'lots' must not break the build). -#}
{% macro safe_bigint(expr) -%}
    case when ({{ expr }}) ~ '^-?[0-9]+$' then ({{ expr }})::bigint end
{%- endmacro %}
