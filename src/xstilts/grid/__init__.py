"""Experiment grids: the stage graph of a configuration and the executors that run it (local, Ray, Slurm)."""
