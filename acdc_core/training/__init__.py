"""Training: datasets from their files, batches, the training loop, checkpoints, distillation,
distributed runs and fitting. Built on the layers; never imports the lab."""
