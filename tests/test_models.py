"""The genre models: shapes, gradients, determinism, batching, options, and the probe's sklearn equivalence."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from musicgenre.models.layers import StridedLinear1d
from musicgenre.models.probe import LinearProbe, fit_logistic_probe, pool_numpy
from musicgenre.models.registry import build_model, get_model_spec, model_names

#: The study's four inputs, one 3 s segment at 16 kHz each.
SHAPES = {
    "waveform": (48000,),
    "yamnet_embedding": (6, 1024),
    "yamnet_logmel": (336, 64),
    "mfcc": (94, 20),
}
SINGLE = [
    ("cnn2d", "mfcc"),
    ("cnn2d", "yamnet_logmel"),
    ("cnn1d", "yamnet_embedding"),
    ("cnn1d", "mfcc"),
    ("cnn1d", "yamnet_logmel"),
    ("bilstm", "mfcc"),
    ("bilstm", "yamnet_logmel"),
    ("bilstm", "yamnet_embedding"),
    ("waveform_cnn", "waveform"),
    ("probe", "yamnet_embedding"),
]
N_CLASSES = 10


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def batch(names: tuple[str, ...], n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(n, *SHAPES[k], generator=g) for k in names}


def build(model: str, names: tuple[str, ...], seed: int = 0, **options) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(model, {k: SHAPES[k] for k in names}, N_CLASSES, **options)


def test_every_model_is_registered() -> None:
    assert set(model_names()) >= {"cnn2d", "cnn1d", "bilstm", "waveform_cnn", "combined", "probe"}
    assert get_model_spec("probe").trainer == "sklearn"
    assert get_model_spec("combined").max_inputs == 4


@pytest.mark.parametrize(("model", "inp"), SINGLE)
def test_forward_backward_on_the_study_shapes(model: str, inp: str) -> None:
    net = build(model, (inp,)).train()
    x = batch((inp,))
    logits = net(x)
    assert logits.shape == (2, N_CLASSES)
    assert torch.isfinite(logits).all()
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 3]))
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_combined_takes_every_subset(k: int) -> None:
    for names in itertools.combinations(SHAPES, k):
        net = build("combined", names).train()
        logits = net(batch(names))
        assert logits.shape == (2, N_CLASSES) and torch.isfinite(logits).all()
        logits.sum().backward()
        assert all(p.grad is not None for p in net.parameters())


def test_combined_branches_follow_the_input_kind() -> None:
    net = build("combined", tuple(SHAPES))
    assert list(net.branches) == [
        "waveform__waveform_cnn",
        "yamnet_embedding__cnn1d",
        "yamnet_embedding__bilstm",
        "yamnet_logmel__cnn2d",
        "yamnet_logmel__bilstm",
        "mfcc__cnn2d",
        "mfcc__bilstm",
    ]
    custom = build("combined", ("mfcc", "yamnet_embedding"), branches={"mfcc": ["cnn2d"]})
    assert list(custom.branches) == ["mfcc__cnn2d", "yamnet_embedding__cnn1d", "yamnet_embedding__bilstm"]
    with pytest.raises(ValueError, match="does not take"):
        build("combined", ("waveform",), branches={"waveform": ["bilstm"]})
    with pytest.raises(KeyError, match="missing"):
        net(batch(("mfcc",)))


@pytest.mark.parametrize(("model", "inp"), [*SINGLE, ("combined", "all")])
def test_eval_mode_batched_equals_per_item(model: str, inp: str) -> None:
    names = tuple(SHAPES) if inp == "all" else (inp,)
    net = build(model, names).eval()
    x = batch(names, n=3, seed=1)
    with torch.no_grad():
        together = net(x)
        alone = torch.cat([net({k: v[i : i + 1] for k, v in x.items()}) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", ["cnn2d", "bilstm", "combined"])
def test_same_seed_same_model(model: str) -> None:
    names = ("mfcc",)
    a, b = build(model, names, seed=3), build(model, names, seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    c = build(model, names, seed=4)
    assert any(
        not torch.equal(va, vc)
        for va, vc in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    )


def test_cnn2d_is_bigger_than_cnn1d_and_uses_a_strided_stem_for_spectrograms() -> None:
    def n_params(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    c2 = build("cnn2d", ("mfcc",))
    assert n_params(c2) > n_params(build("cnn1d", ("yamnet_embedding",)))
    assert c2.trunk.n_stem == 0
    spec = build("cnn2d", ("yamnet_logmel",))
    assert spec.trunk.n_stem == 2  # 336 x 64 -> 84 x 16 before the main blocks


def test_bilstm_pools_only_long_sequences() -> None:
    assert build("bilstm", ("yamnet_logmel",)).trunk.steps == 112
    assert build("bilstm", ("mfcc",)).trunk.steps == 94
    assert build("bilstm", ("yamnet_logmel",), max_steps=0).trunk.steps == 336
    mean = build("bilstm", ("mfcc",), pooling="mean")
    assert mean(batch(("mfcc",))).shape == (2, N_CLASSES)


def test_waveform_trunk_downsamples_by_three_without_dropping_samples() -> None:
    net = build("waveform_cnn", ("waveform",))
    assert net.trunk.lengths == (5334, 1778, 593, 198, 66, 22, 8, 3)
    odd = build_model("waveform_cnn", {"waveform": (1000,)}, 3)
    assert odd({"waveform": torch.randn(2, 1000)}).shape == (2, 3)


def test_strided_linear_equals_a_strided_conv() -> None:
    torch.manual_seed(0)
    layer = StridedLinear1d(4, 6, 3).eval()
    conv = torch.nn.Conv1d(4, 6, 3, stride=3, bias=False)
    with torch.no_grad():  # Linear's input is the (k, C) window flattened k-major
        conv.weight.copy_(layer.linear.weight.reshape(6, 3, 4).permute(0, 2, 1))
    x = torch.randn(2, 10, 4)  # length 10: one zero-padded sample at the end
    ref = torch.relu(layer.norm(conv(torch.nn.functional.pad(x.transpose(1, 2), (0, 2)))).transpose(1, 2))
    torch.testing.assert_close(layer(x), ref, rtol=1e-5, atol=1e-6)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="no option"):
        build("cnn2d", ("mfcc",), widthz=(8,))
    net = build("cnn2d", ("mfcc",), widths=[8, 16], hidden=0)  # lists, as they come back from JSON
    assert net(batch(("mfcc",))).shape == (2, N_CLASSES)
    with pytest.raises(ValueError, match="rank"):
        build_model("cnn2d", {"waveform": (48000,)}, 10)
    with pytest.raises(ValueError, match="takes"):
        build_model("cnn1d", {"mfcc": (94, 20), "yamnet_embedding": (6, 1024)}, 10)


# ------------------------------------------------------------------------------------------------ probe
def _probe_data(n_classes: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n, t, f = 120, 6, 16
    y = rng.integers(0, n_classes, n)
    x = rng.normal(size=(n, t, f)).astype(np.float32)
    x[:, :, 0] += y[:, None] * 0.7
    x[:, :, 1] *= 1 + y[:, None]
    return x[:80], y[:80], x[80:], y[80:]


@pytest.mark.parametrize("n_classes", [2, 4])
def test_probe_module_reproduces_sklearn_predict_proba(n_classes: int) -> None:
    xt, yt, xv, yv = _probe_data(n_classes)
    fit = fit_logistic_probe(pool_numpy(xt), yt, pool_numpy(xv), yv, n_classes, c_grid=(0.01, 1.0))
    assert fit.c in (0.01, 1.0) and len(fit.grid["valid_acc"]) == 2
    probe = build_model("probe", {"emb": (6, 16)}, n_classes)
    assert isinstance(probe, LinearProbe)
    probe.set_parameters(fit.mean, fit.scale, fit.coef, fit.intercept)
    with torch.no_grad():
        ours = torch.softmax(probe({"emb": torch.from_numpy(xv)}), dim=1).numpy()
    theirs = fit.estimator.predict_proba(fit.scaler.transform(pool_numpy(xv)))
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_probe_handles_a_class_missing_from_training() -> None:
    xt, yt, xv, _ = _probe_data(3)
    keep = yt != 1
    fit = fit_logistic_probe(pool_numpy(xt[keep]), yt[keep], None, None, 3)
    assert fit.c == 1.0  # no validation rows: sklearn's default
    probe = build_model("probe", {"emb": (6, 16)}, 3)
    probe.set_parameters(fit.mean, fit.scale, fit.coef, fit.intercept)
    with torch.no_grad():
        p = torch.softmax(probe({"emb": torch.from_numpy(xv)}), dim=1).numpy()
    assert np.all(p[:, 1] == 0.0)
    theirs = fit.estimator.predict_proba(fit.scaler.transform(pool_numpy(xv)))
    np.testing.assert_allclose(p[:, [0, 2]], theirs, atol=2e-5)
