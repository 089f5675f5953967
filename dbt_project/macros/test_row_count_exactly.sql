{#- Fails unless the model has exactly `expected` rows (a one-row configuration table). -#}
{% test row_count_exactly(model, expected) %}
    select count(*) as row_count
    from {{ model }}
    having count(*) <> {{ expected }}
{% endtest %}
