"""One module per experiment, each runnable as ``python -m arnn_lite.experiments.NAME``."""
