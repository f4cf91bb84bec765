"""kv.evaluation against explicit loops and models whose answers are known.

Deletion and insertion are recomputed by a loop over the steps with the
user's model's own logits and a hand-written trapezoid; MuFidelity and
infidelity on a linear model, where Gradient x Input explains every score
change exactly (MuFidelity 1, infidelity 0) and a random map does not;
sensitivity-max and stability by a loop over the documented noise.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import InvalidArgumentError, InvalidTargetError, KerasvizError

SIZE = 12


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 2)),
        keras.layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, bias_initializer="random_normal"),
    ])


@pytest.fixture(scope="module")
def linear():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((SIZE, SIZE, 2)), keras.layers.Flatten(),
                             keras.layers.Dense(3, bias_initializer="random_normal")])


def _images(n=3, seed=2):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, SIZE, SIZE, 2)).astype(np.float32)


def _logits(model, x):
    return model(tf.constant(x, tf.float32), training=False).numpy().astype(np.float64)


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize("insert", [False, True])
def test_deletion_and_insertion_match_an_explicit_loop(model, insert):
    x = _images()
    maps = np.random.default_rng(4).standard_normal((3, SIZE, SIZE, 2))
    maps[0, :3] = 0.0  # ties: broken by position
    steps, baseline = 7, 0.3
    metric = kv.evaluation.insertion if insert else kv.evaluation.deletion
    areas = metric(model, x, maps, target=2, steps=steps, baseline=baseline, batch_size=5)
    pixels = SIZE * SIZE
    for i in range(3):
        importance = np.abs(maps[i]).sum(-1).ravel()
        order = sorted(range(pixels), key=lambda p: (-importance[p], p))
        fractions, scores = [], []
        for k in range(steps + 1):
            n = int(np.round(k * pixels / steps))
            changed = np.zeros(pixels, bool)
            changed[order[:n]] = True
            changed = changed.reshape(SIZE, SIZE, 1)
            image = np.where(changed, x[i], baseline) if insert else np.where(changed, baseline, x[i])
            scores.append(_logits(model, image[None])[0, 2])
            fractions.append(n / pixels)
        area = sum((scores[k] + scores[k + 1]) / 2 * (fractions[k + 1] - fractions[k]) for k in range(steps))
        assert areas[i] == pytest.approx(area, rel=1e-5, abs=1e-6)


def test_deletion_of_a_faithful_map_is_lower_than_of_its_reverse(linear):
    x = _images()
    gxi = kv.visualize(linear, x, rules=("saliency",), target=0, method=kv.methods.GradientXInput(),
                       progress=False)["saliency"]
    # rank by the signed effect: pixels that raise the score first
    positive = np.maximum(gxi.sum(-1), 0)
    reverse = np.maximum(-gxi.sum(-1), 0)
    good = kv.evaluation.deletion(linear, x, positive, target=0, steps=10)
    bad = kv.evaluation.deletion(linear, x, reverse, target=0, steps=10)
    assert (good < bad).all()
    assert (kv.evaluation.insertion(linear, x, positive, target=0) >
            kv.evaluation.insertion(linear, x, reverse, target=0)).all()


def test_mu_fidelity_of_gradient_x_input_on_a_linear_model_is_one_and_of_a_random_map_near_zero(linear):
    x = _images(4)
    gxi = kv.visualize(linear, x, rules=("saliency",), target=1, method=kv.methods.GradientXInput(),
                       progress=False)["saliency"]
    exact = kv.evaluation.mu_fidelity(linear, x, gxi, target=1, grid=4, subset=0.25, samples=64, seed=0)
    np.testing.assert_allclose(exact, 1.0, atol=1e-5)
    # a random map's 64 cell sums are unrelated to the cells' effects: correlations of sd about 1/8
    x = _images(8, seed=3)
    noise = np.random.default_rng(9).standard_normal((8, SIZE, SIZE))
    random = kv.evaluation.mu_fidelity(linear, x, noise, target=1, grid=8, subset=0.2, samples=256, seed=0)
    assert abs(random.mean()) < 0.15 and np.abs(random).max() < 0.5


def test_mu_fidelity_matches_the_documented_subsets(model):
    x = _images(1)
    maps = np.random.default_rng(5).standard_normal((1, SIZE, SIZE))
    got = kv.evaluation.mu_fidelity(model, x, maps, target=0, grid=3, subset=0.3, samples=20, seed=7)
    rng = np.random.default_rng([7, 0])
    picks = np.argsort(rng.random((20, 9)), axis=1)[:, :3]  # round(0.3 * 9) = 3 cells
    edges = np.round(np.arange(4) * SIZE / 3).astype(int)
    full = _logits(model, x)[0, 0]
    drops, sums = [], []
    for chosen in picks:
        mask = np.zeros((SIZE, SIZE), bool)
        for cell in chosen:
            r, c = divmod(int(cell), 3)
            mask[edges[r]:edges[r + 1], edges[c]:edges[c + 1]] = True
        drops.append(full - _logits(model, np.where(mask[..., None], 0.0, x[0])[None])[0, 0])
        sums.append(maps[0][mask].sum() * 2)  # an (H, W) map counts once per channel
    assert got[0] == pytest.approx(np.corrcoef(sums, drops)[0, 1], rel=1e-5)


def test_infidelity_is_zero_for_the_gradient_of_a_linear_model_and_positive_for_noise(linear):
    x = _images(2)
    gradient = kv.visualize(linear, x, rules=("saliency",), target=2, progress=False)["saliency"]
    exact = kv.evaluation.infidelity(linear, x, gradient, target=2, noise=0.1, samples=16)
    noise = kv.evaluation.infidelity(linear, x, np.random.default_rng(1).standard_normal(gradient.shape),
                                     target=2, noise=0.1, samples=16)
    assert (exact < 1e-8).all()
    assert (noise > 1e-3).all()


def test_infidelity_matches_the_documented_noise(model):
    x = _images(1)
    maps = np.random.default_rng(3).standard_normal((1, SIZE, SIZE, 2)) * 0.1
    got = kv.evaluation.infidelity(model, x, maps, target=1, noise=0.2, samples=5, seed=4)
    sigma = 0.2 * (x[0].max() - x[0].min())
    draws = (sigma * np.random.default_rng([4, 0]).standard_normal((5, SIZE, SIZE, 2))).astype(np.float32)
    full = _logits(model, x)[0, 1]
    errors = [((d.astype(np.float64) * maps[0]).sum() - (full - _logits(model, (x[0] - d)[None])[0, 1])) ** 2
              for d in draws]
    assert got[0] == pytest.approx(np.mean(errors), rel=1e-4)


def test_sensitivity_max_and_stability_follow_the_documented_noise(model, linear):
    x = _images(2)
    viz = kv.Visualizer(model, rules=("saliency", "guided"))
    top = np.argmax(_logits(model, x), axis=1)
    reference = viz(x, target=top, progress=False)["guided"].reshape(2, -1)
    changes = np.zeros((2, 3))
    for s in range(3):
        noisy = x.copy()
        for i in range(2):
            r = 0.05 * (x[i].max() - x[i].min())
            noisy[i] += np.random.default_rng([1, i, s]).uniform(-r, r, x.shape[1:]).astype(np.float32)
        maps = viz(noisy, target=top, progress=False)["guided"].reshape(2, -1)
        changes[:, s] = np.linalg.norm(maps - reference, axis=1) / np.linalg.norm(reference, axis=1)
    kwargs = dict(target="max", rule="guided", radius=0.05, samples=3, seed=1)
    np.testing.assert_allclose(kv.evaluation.sensitivity_max(viz, x, **kwargs), changes.max(1), rtol=1e-5)
    np.testing.assert_allclose(kv.evaluation.stability(viz, x, **kwargs), changes.mean(1), rtol=1e-5)
    assert (changes.max(1) > 0).all()
    # the gradient of a linear model does not move at all
    np.testing.assert_allclose(kv.evaluation.sensitivity_max(linear, x, target=0, samples=2), 0.0, atol=1e-7)


def test_bad_arguments_get_a_kerasviz_error(model):
    x = _images(2)
    maps = np.ones((2, SIZE, SIZE))
    with _raises(InvalidArgumentError, "`steps` must be a positive integer. Received: steps=0"):
        kv.evaluation.deletion(model, x, maps, target=0, steps=0)
    with _raises(InvalidArgumentError, "`maps` must be one map per image, (N, H, W) or shaped like the images "
                 f"(2, {SIZE}, {SIZE}, 2). Received: maps shape=(2, 5, 5)"):
        kv.evaluation.insertion(model, x, np.ones((2, 5, 5)), target=0)
    with _raises(InvalidArgumentError, "`subset` must be a number strictly between 0 and 1, e.g. 0.2 "
                 "(a fifth of the cells). Received: subset=1.5"):
        kv.evaluation.mu_fidelity(model, x, maps, subset=1.5)
    with _raises(InvalidArgumentError, f"The grid is finer than the images ({SIZE}, {SIZE}): choose at most "
                 f"{SIZE} cells per side. Received: grid=20"):
        kv.evaluation.mu_fidelity(model, x, maps, grid=20)
    with pytest.raises(InvalidTargetError, match="one class per image"):
        kv.evaluation.deletion(model, x, maps, target=[[0, 1], [1, 2]])
    with pytest.raises(KerasvizError, match=r"Received: model of type str$"):
        kv.evaluation.deletion("model", x, maps)
