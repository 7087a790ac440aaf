"""What the notebooks stand on: the studies' code (analysis), the log's models, the log's
reported figures (log_figures), the notebook suite, notebook helpers and the timing harness.
Built on the layers and on training."""
