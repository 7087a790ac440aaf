"""Studies built on the core layers: accuracy checks, statistics, experiments, counts."""
