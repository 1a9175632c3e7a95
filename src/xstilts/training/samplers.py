"""Multi-task samplers (PROTOCOL §7, after jiant's ``task_sampler.py``): each optimizer step picks one task.

Every sampler is deterministic given its seed and stateless apart from its RNG, so all DDP ranks that build it
with the same seed pick the same task at every step, and its state can be checkpointed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from xstilts.errors import ConfigError


class TaskSampler:
    """Samples task names with fixed probabilities ``p``; subclasses only define ``p``."""

    name = "base"

    def __init__(self, sizes: Mapping[str, int], seed: int, **_):
        if not sizes:
            raise ConfigError("a task sampler needs at least one task")
        self.tasks = list(sizes)
        self.sizes = dict(sizes)
        self.rng = np.random.default_rng(seed)
        p = np.asarray(self.probabilities(), dtype=np.float64)
        self.p = p / p.sum()

    def probabilities(self) -> list[float]:
        raise NotImplementedError

    def pick(self) -> str:
        return self.tasks[int(self.rng.choice(len(self.tasks), p=self.p))]

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


class ProportionalSampler(TaskSampler):
    """p(t) = n_t / Σ n (jiant's default)."""

    name = "proportional"

    def probabilities(self):
        return [self.sizes[t] for t in self.tasks]


class CappedProportionalSampler(TaskSampler):
    """p(t) = min(n_t, cap) / Σ min(n, cap)."""

    name = "capped"

    def __init__(self, sizes, seed, cap: int | None = None, **kw):
        if not cap or cap <= 0:
            raise ConfigError("sampler 'capped' needs a positive 'cap'")
        self.cap = cap
        super().__init__(sizes, seed, **kw)

    def probabilities(self):
        return [min(self.sizes[t], self.cap) for t in self.tasks]


class TemperatureSampler(TaskSampler):
    """p(t) ∝ min(n_t, cap)^(1/T): T=1 is capped proportional, T→∞ uniform."""

    name = "temperature"

    def __init__(self, sizes, seed, temperature: float = 2.0, cap: int | None = None, **kw):
        if temperature <= 0:
            raise ConfigError("sampler 'temperature' needs temperature > 0")
        self.temperature, self.cap = temperature, cap
        super().__init__(sizes, seed, **kw)

    def probabilities(self):
        cap = self.cap or math.inf
        return [min(self.sizes[t], cap) ** (1.0 / self.temperature) for t in self.tasks]


class UniformSampler(TaskSampler):
    """p(t) = 1/K."""

    name = "uniform"

    def probabilities(self):
        return [1.0] * len(self.tasks)


SAMPLERS: dict[str, type[TaskSampler]] = {
    cls.name: cls
    for cls in (ProportionalSampler, CappedProportionalSampler, TemperatureSampler, UniformSampler)
}


def make_sampler(name: str, sizes: Mapping[str, int], seed: int, **options) -> TaskSampler:
    if name not in SAMPLERS:
        from xstilts.errors import UnknownNameError

        raise UnknownNameError("sampler", name, list(SAMPLERS))
    return SAMPLERS[name](sizes, seed, **options)


def step_budget(sizes: Mapping[str, int], epochs: float, batch_size: int, cap: int | None = None) -> int:
    """jiant's rule: max_steps = Σ_t epochs × ⌈min(n_t, cap) / effective batch⌉."""
    cap = cap or math.inf
    return int(sum(math.ceil(epochs * math.ceil(min(n, cap) / batch_size)) for n in sizes.values()))
