{#- Models land in exactly the schema their folder names (staging, marts), not
    "<target schema>_<folder>": BI users and auditors look for `marts.<model>`.

    Except that the daily run builds the marts (models and the snapshot) into a shadow
    schema first, named by the var `marts_schema` (default `marts`): the mart suites check
    the shadow and only a passing shadow is published as `marts` (missionpulse/marts_publish.py).
    Both dbt task groups of a run pass the same var, so they build into the same shadow. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {{ var('marts_schema', 'marts') | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
