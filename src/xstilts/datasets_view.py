"""Resolve what a phase trains, validates and evaluates on — one place for the data rules of the recipe:

* training: the task's English ``train`` split, or ``train_from`` another task (XNLI ← MNLI) when the task has
  no training file of its own, or whatever the config's ``DataRef`` says;
* validation (early stopping): English ``dev`` of the task, else of the training task; when that is the
  training data itself (or there is none), the last ``eval_examples`` training rows are held out of training;
* evaluation: every language of the evaluation split (those with gold, or all with predictions only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xstilts.config import DataRef
from xstilts.data.loading import (
    DataRoots,
    SourcePreference,
    gold_languages,
    load_split,
    local_languages,
    local_path,
)
from xstilts.data.records import SplitData
from xstilts.errors import ConfigError, XstiltsError
from xstilts.tasks.registry import TaskRegistry
from xstilts.tasks.spec import TaskSpec


@dataclass(frozen=True)
class Ref:
    task: str
    split: str
    language: str

    def __str__(self) -> str:
        return f"{self.task}/{self.split}/{self.language}"


class DataView:
    def __init__(self, registry: TaskRegistry, roots: DataRoots, prefer: SourcePreference = "auto"):
        self.registry, self.roots, self.prefer = registry, roots, prefer
        self._cache: dict[Ref, SplitData] = {}

    def load(self, ref: Ref) -> SplitData:
        if ref not in self._cache:
            self._cache[ref] = load_split(
                self.registry.get(ref.task), ref.split, ref.language, self.roots, self.prefer, self.registry
            )
        return self._cache[ref]

    def available(self, ref: Ref) -> bool:
        spec = self.registry.get(ref.task)
        path = local_path(spec, ref.split, ref.language, self.roots)
        if path is not None and path.exists():
            return True
        return (
            self.prefer != "local"
            and spec.hub is not None
            and ref.split in spec.hub.splits
            and not spec.gated
        )

    def train_ref(self, spec: TaskSpec, override: DataRef | None = None) -> Ref:
        o = override or DataRef()
        if o.task:
            base = self.registry.get(o.task)
            return Ref(base.name, o.split or "train", o.language or base.train_language)
        own = Ref(spec.name, o.split or "train", o.language or spec.train_language)
        if o.split is None and spec.train_from and not self.available(own):
            base = self.registry.get(spec.train_from)
            return Ref(base.name, "train", base.train_language)
        return own

    def dev_ref(self, spec: TaskSpec, train: Ref, override: DataRef | None = None) -> Ref | None:
        o = override or DataRef()
        if o.task or o.split or o.language:
            base = self.registry.get(o.task) if o.task else spec
            return Ref(base.name, o.split or "dev", o.language or base.train_language)
        for cand in (Ref(spec.name, "dev", spec.train_language), Ref(train.task, "dev", train.language)):
            if self.available(cand):
                return cand
        return None

    def train_and_dev(
        self, spec: TaskSpec, train_override: DataRef | None, dev_override: DataRef | None, eval_examples: int
    ) -> tuple[SplitData, SplitData, str]:
        """(train, dev, how dev was chosen). Never validates on rows it trains on."""
        tref = self.train_ref(spec, train_override)
        train = self.load(tref)
        max_train = train_override.max_examples if train_override else None
        dref = self.dev_ref(spec, tref, dev_override)
        if dref is None or dref == tref:
            # Carve validation rows off the end first, so capping the training size never shrinks them.
            if len(train.examples) <= eval_examples:
                raise XstiltsError(
                    f"{tref}: {len(train.examples)} training examples cannot spare {eval_examples} for validation; "
                    "lower eval_examples or give a dev split"
                )
            cut = len(train.examples) - eval_examples
            held = replace(train, examples=train.examples[cut:], checksum=f"{train.checksum}[{cut}:]")
            kept = replace(train, examples=train.examples[:cut], checksum=f"{train.checksum}[:{cut}]")
            return _head(kept, max_train), held, f"last {eval_examples} rows of {tref}, held out of training"
        dev = _head(self.load(dref), dev_override.max_examples if dev_override else None)
        return _head(train, max_train), _head(dev, eval_examples), str(dref)

    def eval_languages(
        self, spec: TaskSpec, split: str, wanted: list[str] | str, gold_only: bool, field: str
    ) -> list[str]:
        if wanted == "all":
            langs = (
                gold_languages(spec, split, self.roots)
                if gold_only
                else local_languages(spec, split, self.roots)
            )
            if not langs and spec.hub is not None and self.prefer != "local":
                langs = list(spec.languages)
            if not langs:
                raise XstiltsError(
                    f"task {spec.name!r} has no {split!r} data in any language under {self.roots}"
                )
            return langs
        unknown = [lg for lg in wanted if lg not in spec.languages]
        if unknown:
            raise ConfigError(
                f"{field}: {unknown} not among the languages of {spec.name!r}: {list(spec.languages)}"
            )
        return list(wanted)


def _head(data: SplitData, n: int | None) -> SplitData:
    if n is None or len(data.examples) <= n:
        return data
    return replace(data, examples=data.examples[:n], checksum=f"{data.checksum}[:{n}]")
