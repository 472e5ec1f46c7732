"""Embedders: user TorchScript/ONNX models, whitening files, the Beam stage."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
import torch

from dedup.embed import EmbedConfig, eval_views, make_embedder
from dedup.whiten import Whitening
from tests.dedup.conftest import scene


class _Tiny(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)


def test_torchscript_model_loads_as_descriptor(tmp_path) -> None:
    path = str(tmp_path / "tiny.pt")
    torch.jit.script(_Tiny()).save(path)
    emb = make_embedder(
        EmbedConfig(kind="torchscript", model_path=path, input_size=32, device="cpu")
    )
    vecs = emb.embed([scene(1), scene(2), scene(1)])
    assert vecs.shape == (3, 48)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[2] > 0.999 and vecs[0] @ vecs[1] < 0.999


def test_onnx_model_gives_the_torchscript_descriptor(tmp_path) -> None:
    pytest.importorskip(
        "onnxruntime", reason="the onnx extra is not installed: pip install -e .[onnx]"
    )
    pytest.importorskip("onnx", reason="the onnx extra is not installed: pip install -e .[onnx]")
    onnx_path, script_path = str(tmp_path / "tiny.onnx"), str(tmp_path / "tiny.pt")
    torch.onnx.export(
        _Tiny(), torch.zeros(1, 3, 32, 32), onnx_path, input_names=["x"],
        dynamic_axes={"x": {0: "n"}}, dynamo=False,
    )  # fmt: skip
    torch.jit.script(_Tiny()).save(script_path)
    images = [scene(1), scene(2), scene(1)]
    onnx = make_embedder(EmbedConfig(kind="onnx", model_path=onnx_path, input_size=32))
    script = make_embedder(
        EmbedConfig(kind="torchscript", model_path=script_path, input_size=32, device="cpu")
    )
    vecs = onnx.embed(images)
    assert vecs.shape == (3, 48)
    assert np.allclose(vecs, script.embed(images), atol=1e-5)  # same model, same descriptor
    assert vecs[0] @ vecs[2] > 0.999 and vecs[0] @ vecs[1] < 0.999


def _correlated(n: int = 400, d: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    scales = np.array([20.0, 8, 5, 3, 2, 1, 0.5, 0.2])[:d]  # one direction dominates
    mix = np.linalg.qr(rng.normal(size=(d, d)))[0]  # a random rotation: correlated columns
    return (rng.normal(size=(n, d)) * scales @ mix + 3.0).astype(np.float32)


def test_whitening_whitens() -> None:
    x = _correlated()
    w = Whitening.fit(x, dim=4, shrink=0.0)
    y = (x - w.mean) @ w.proj  # before the L2 normalisation of `apply`
    assert np.allclose(np.cov(y.T), np.eye(4), atol=1e-3)  # unit variance, decorrelated
    assert np.allclose(y.mean(axis=0), 0.0, atol=1e-3)
    top = np.linalg.eigh(np.cov(x.T))[1][:, ::-1][:, :4]  # the 4 leading principal directions
    assert np.allclose(
        np.abs(top.T @ (w.proj / np.linalg.norm(w.proj, axis=0))), np.eye(4), atol=1e-3
    )
    out = w.apply(x)
    assert np.allclose(out, y / np.linalg.norm(y, axis=1, keepdims=True), atol=1e-5)


def test_whitening_shrinkage_keeps_order_and_decorrelates() -> None:
    x = _correlated()
    y = (x - Whitening.fit(x, dim=8).mean) @ Whitening.fit(x, dim=8).proj
    cov = np.cov(y.T)
    assert np.allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-3)
    variances = np.diag(cov)  # lambda / (lambda + shrink * mean lambda): below 1, decreasing
    assert np.all(variances < 1.0) and np.all(np.diff(variances) < 0)
    assert variances[0] > 0.95


def test_whitening_roundtrip(tmp_path) -> None:
    x = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    w = Whitening.fit(x, dim=4)
    w.save(str(tmp_path / "w.npz"))
    w2 = Whitening.load(str(tmp_path / "w.npz"))
    assert np.array_equal(w.apply(x), w2.apply(x))
    assert w.apply(x).shape == (50, 4)


def test_eval_views_count() -> None:
    assert len(eval_views(scene(3))) == 20  # 6 crops + 4 turns, each also mirrored
    assert len(eval_views(scene(3), ("full",), flip=False)) == 1


def _key_dim(kv: tuple) -> tuple:
    return kv[0], kv[1].shape[0]


def test_beam_embed_stage() -> None:
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from dedup.beam import EmbedImages
    from tests.dedup.conftest import sample

    items = [(k, m["jpg"]) for k, m in (sample(f"k{i}", scene(i), "", "") for i in range(3))]
    items.append(("bad", b"not an image"))
    with TestPipeline() as p:
        keys = (
            p
            | "Create" >> beam.Create(items)
            | "Embed" >> EmbedImages(EmbedConfig())
            | "Keys" >> beam.Map(_key_dim)
        )
        dim = make_embedder(EmbedConfig()).embed([scene(0)]).shape[1]
        assert_that(keys, equal_to([("k0", dim), ("k1", dim), ("k2", dim)]))
