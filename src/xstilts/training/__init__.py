"""Training: length-grouped batching, multi-task samplers and the accelerate-based loop."""
