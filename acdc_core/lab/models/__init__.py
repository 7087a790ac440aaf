"""Named models of the log's experiments (described in docs/experiments.md) and their baselines."""
from ...base import parameter_count
from .mnist import MNIST_MODELS, build

__all__ = ["MNIST_MODELS", "build", "parameter_count"]
