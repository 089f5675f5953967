{#- dbt's hook for a data test's `where` config (the tested relation becomes
    `(select * from relation where <where>)`), extended with placeholders for the run's
    data interval. dbt renders a `where` config without the project's macros, so the
    configs name the interval with a placeholder and this macro expands it:

      __run_interval__(col)  col, a raw partition timestamp (interval_start), inside the
                             partitions the run rebuilds: in_run_interval (restated days
                             included)
      __run_days__(col)      col, a date, inside the days the run rebuilds:
                             [start_date - restate_days, end_date)
      __run_weeks__(col)     col, a date, inside the ISO weeks the run rebuilds: in_run_weeks

    A daily run then tests the rows it built, at a cost that does not grow with the
    history (issue 9), instead of re-testing every earlier day on every run. Without the
    interval vars (a full build) each placeholder is `true`: everything is tested. -#}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = expand_run_placeholders(where) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro expand_run_placeholders(where) -%}
    {%- set pattern = '__run_(interval|days|weeks)__\(\s*([A-Za-z_][A-Za-z0-9_."]*)\s*\)' -%}
    {%- set expanded = namespace(text=where) -%}
    {%- for kind, column in modules.re.findall(pattern, where) -%}
        {%- if kind == 'interval' -%}
            {%- set condition = in_run_interval(column) -%}
        {%- elif kind == 'days' -%}
            {%- set condition = in_run_days(column) -%}
        {%- else -%}
            {%- set condition = in_run_weeks(column) -%}
        {%- endif -%}
        {%- set expanded.text = modules.re.sub(
            '__run_' ~ kind ~ '__\(\s*' ~ modules.re.escape(column) ~ '\s*\)',
            '(' ~ (condition | trim | replace('\\', '\\\\')) ~ ')',
            expanded.text
        ) -%}
    {%- endfor -%}
    {%- if '__run_' in expanded.text -%}
        {{ exceptions.raise_compiler_error(
            "data test where config '" ~ where ~ "': unknown placeholder; use"
            ~ " __run_interval__(column), __run_days__(column) or __run_weeks__(column)"
        ) }}
    {%- endif -%}
    {{- return(expanded.text) -}}
{%- endmacro %}

{#- A date column inside the days the run rebuilds, restated days included. -#}
{% macro in_run_days(column) -%}
    {%- if run_interval_set() -%}
        {{ column }} >= {{ run_start_date() }} and {{ column }} < '{{ var("end_date") }}'::date
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
