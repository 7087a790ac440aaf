"""What the notebooks stand on: the studies' runners (experiments) and analysis, the log's models
and recipes, the log's reported figures (log_figures), the notebook suite, notebook helpers and
the timing harness. Built on the layers and on training."""
