"""Named models of the log's experiments and their baselines."""
from .mnist import MNIST_MODELS, build, parameter_count

__all__ = ["MNIST_MODELS", "build", "parameter_count"]
