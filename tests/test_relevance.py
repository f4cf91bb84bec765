"""LRP and DeepLIFT (kerasviz.relevance) against a NumPy reference written here.

The reference is independent of kerasviz's "gradient × input" form: every
linear layer (Dense or Conv2D) is an explicit matrix built with loops, and
relevance is propagated in the textbook form `R_in = a ⊙ Mᵀ(R / stab(z))`
(Montavon et al. 2019), layer by layer; DeepLIFT multiplies explicit
multipliers. Tiny nets, float64 references.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv
from kerasviz.errors import InvalidArgumentError, KerasvizError, UnknownRuleError

LRP_NAMED = ("lrp-epsilon", "lrp-zplus", "lrp-alpha2-beta1", "lrp-epsilon-plus", "lrp-epsilon-plus-flat",
             "lrp-epsilon-gamma-box")


# -- the NumPy reference -----------------------------------------------------------------

def conv_matrix(kernel: np.ndarray, in_shape: tuple) -> np.ndarray:
    """The matrix of a valid, stride-1 Conv2D (channels last), by loops."""
    h, w, c = in_shape
    kh, kw, _, o = kernel.shape
    oh, ow = h - kh + 1, w - kw + 1
    m = np.zeros((oh * ow * o, h * w * c))
    for i in range(oh):
        for j in range(ow):
            for q in range(o):
                row = (i * ow + j) * o + q
                for di in range(kh):
                    for dj in range(kw):
                        for ch in range(c):
                            m[row, ((i + di) * w + (j + dj)) * c + ch] = kernel[di, dj, ch, q]
    return m


def stab(z, eps):
    return z + eps * np.where(z >= 0, 1.0, -1.0)


def lrp_linear(kind, a, layer, r, rule):
    """Relevance of a linear layer's input (textbook form). `layer` = dict(m, ones, b)."""
    m, b = layer["m"], layer["b"]
    mp, mn = np.maximum(m, 0), np.minimum(m, 0)
    ap, an = np.maximum(a, 0), np.minimum(a, 0)
    e = 1e-6
    if kind == "epsilon":
        return a * (m.T @ (r / stab(m @ a + b, rule.epsilon)))
    if kind == "zplus":
        s = r / stab(mp @ ap + mn @ an, e)
        return ap * (mp.T @ s) + an * (mn.T @ s)
    if kind == "alpha-beta":
        sp = r / stab(mp @ ap + mn @ an, e)
        sn = r / stab(mn @ ap + mp @ an, e)
        return rule.alpha * (ap * (mp.T @ sp) + an * (mn.T @ sp)) - rule.beta * (ap * (mn.T @ sn) + an * (mp.T @ sn))
    if kind == "gamma":
        mg, bg = m + rule.gamma * mp, b + rule.gamma * np.maximum(b, 0)
        return a * (mg.T @ (r / stab(mg @ a + bg, e)))
    if kind == "flat":
        ones = layer["ones"]
        return ones.T @ (r / stab(ones @ np.ones_like(a), e))
    if kind == "wsquare":
        return (m * m).T @ (r / stab((m * m) @ np.ones_like(a), e))
    if kind == "zbox":
        low = np.full_like(a, a.min() if rule.low is None else rule.low)
        high = np.full_like(a, a.max() if rule.high is None else rule.high)
        s = r / stab(m @ a - mp @ low - mn @ high, e)
        return a * (m.T @ s) - low * (mp.T @ s) - high * (mn.T @ s)
    raise AssertionError(kind)


def numpy_net(model):
    """The model as a list of NumPy steps: ("linear", kind, m, ones, b) / ("relu",) / ("maxpool"|"avgpool", shape)."""
    steps, shape = [], tuple(model.inputs[0].shape[1:])
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            k, b = (w.numpy().astype(np.float64) for w in (layer.kernel, layer.bias))
            m, ones = conv_matrix(k, shape), conv_matrix(np.ones_like(k), shape)
            shape = (shape[0] - k.shape[0] + 1, shape[1] - k.shape[1] + 1, k.shape[3])
            steps.append(("linear", "conv", dict(m=m, ones=ones, b=np.tile(b, shape[0] * shape[1]))))
        elif isinstance(layer, keras.layers.Dense):
            k = layer.kernel.numpy().astype(np.float64)
            b = layer.bias.numpy().astype(np.float64) if layer.use_bias else np.zeros(k.shape[1])
            steps.append(("linear", "dense", dict(m=k.T, ones=np.ones_like(k.T), b=b)))
            shape = (k.shape[1],)
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            kind = "maxpool" if isinstance(layer, keras.layers.MaxPooling2D) else "avgpool"
            steps.append((kind, shape))
            shape = (shape[0] // 2, shape[1] // 2, shape[2])
        elif isinstance(layer, keras.layers.Flatten):
            shape = (int(np.prod(shape)),)
        else:
            raise AssertionError(layer)
        if getattr(layer, "activation", None) is keras.activations.relu:
            steps.append(("relu",))
    return steps


def pool(a, shape, kind):
    h, w, c = shape
    blocks = a.reshape(h // 2, 2, w // 2, 2, c).transpose(0, 2, 4, 1, 3).reshape(h // 2, w // 2, c, 4)
    out = blocks.max(-1) if kind == "maxpool" else blocks.mean(-1)
    return out.reshape(-1), blocks


def unpool(r, a_blocks, shape, kind):
    """Max: winner takes all; average: proportional to the inputs."""
    h, w, c = shape
    r = r.reshape(h // 2, w // 2, c, 1)
    if kind == "maxpool":
        share = (a_blocks == a_blocks.max(-1, keepdims=True)).astype(float)
        share /= share.sum(-1, keepdims=True)
    else:
        total = a_blocks.sum(-1, keepdims=True)
        share = np.where(total != 0, a_blocks / np.where(total != 0, total, 1), 0.0)
    blocks = r * share
    return blocks.reshape(h // 2, w // 2, c, 2, 2).transpose(0, 3, 1, 4, 2).reshape(-1)


def forward(steps, x):
    acts = [x.reshape(-1).astype(np.float64)]
    for step in steps:
        a = acts[-1]
        if step[0] == "linear":
            acts.append(step[2]["m"] @ a + step[2]["b"])
        elif step[0] == "relu":
            acts.append(np.maximum(a, 0))
        else:
            acts.append(pool(a, step[1], step[0])[0])
    return acts


def lrp_reference(model, x, target, rule):
    steps = numpy_net(model)
    acts = forward(steps, x)
    r = np.zeros_like(acts[-1])
    r[target] = acts[-1][target]
    first = next(i for i, s in enumerate(steps) if s[0] == "linear")
    for i in reversed(range(len(steps))):
        step, a = steps[i], acts[i]
        if step[0] == "linear":
            r = lrp_linear(rule.kind_for(step[1], i == first), a, step[2], r, rule)
        elif step[0] != "relu":  # relu: relevance passes unchanged
            r = unpool(r, pool(a, step[1], step[0])[1], step[1], step[0])
    return r.reshape(x.shape)


def deeplift_pool(g, a, a0, shape, kind):
    """Multipliers at a 2×2 pooling's input: the gradient (average); Captum's Rescale (max).

    Max: with t = max(y, y₀), the image's winner gets g·(t − y₀), the baseline's g·(y − t); each
    input's multiplier is its share / Δa (the gradient where |Δa| < 1e-7).
    """
    h, w, c = shape
    y, blocks = pool(a, shape, "maxpool")
    y0, blocks0 = pool(a0, shape, "maxpool")
    g = g.reshape(h // 2, w // 2, c, 1)
    if kind == "avgpool":
        m = np.broadcast_to(g / 4, blocks.shape)
    else:
        y, y0 = y.reshape(g.shape), y0.reshape(g.shape)
        top = np.maximum(y, y0)
        win, win0 = (np.arange(4) == b.argmax(-1)[..., None] for b in (blocks, blocks0))  # first winner, as TF
        share = g * ((top - y0) * win + (y - top) * win0)
        da = blocks - blocks0
        near = np.abs(da) < 1e-7
        m = np.where(near, g * win, share / np.where(near, 1, da))
    return m.reshape(h // 2, w // 2, c, 2, 2).transpose(0, 3, 1, 4, 2).reshape(-1)


def deeplift_reference(model, x, x0, target):
    steps = numpy_net(model)
    acts, base = forward(steps, x), forward(steps, x0)
    g = np.zeros_like(acts[-1])
    g[target] = 1.0
    for i in reversed(range(len(steps))):
        step = steps[i]
        if step[0] == "linear":
            g = step[2]["m"].T @ g
        elif step[0] == "relu":
            dz = acts[i] - base[i]
            quotient = (acts[i + 1] - base[i + 1]) / np.where(np.abs(dz) < 1e-7, 1, dz)
            g = g * np.where(np.abs(dz) < 1e-7, (acts[i] > 0).astype(float), quotient)
        else:
            g = deeplift_pool(g, acts[i], base[i], step[1], step[0])
    return ((x - x0).reshape(-1) * g).reshape(x.shape)


# -- nets ------------------------------------------------------------------------

def conv_net(bias=True, seed=0, pooling="max"):
    keras.utils.set_random_seed(seed)
    init = "random_normal" if bias else "zeros"
    pool_layer = keras.layers.MaxPooling2D(2) if pooling == "max" else keras.layers.AveragePooling2D(2)
    return keras.Sequential([
        keras.Input((7, 7, 2)),
        keras.layers.Conv2D(3, 2, activation="relu", use_bias=bias, bias_initializer=init),
        pool_layer,
        keras.layers.Conv2D(4, 2, activation="relu", use_bias=bias, bias_initializer=init),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="relu", use_bias=bias, bias_initializer=init),
        keras.layers.Dense(3, use_bias=bias, bias_initializer=init),
    ])


def dense_net(bias=True, seed=1):
    keras.utils.set_random_seed(seed)
    init = keras.initializers.RandomNormal(stddev=0.3) if bias else "zeros"
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu", use_bias=bias, bias_initializer=init),
        keras.layers.Dense(7, activation="relu", use_bias=bias, bias_initializer=init),
        keras.layers.Dense(3, use_bias=bias, bias_initializer=init),
    ])


def images(shape, n=2, seed=0, low=-1.0):
    return np.random.default_rng(seed).uniform(low, 1.0, (n, *shape)).astype(np.float32)


# -- the named rules and rule objects, layer by layer ------------------------------------

@pytest.mark.parametrize("net", ["conv", "dense"])
def test_every_named_lrp_rule_matches_the_numpy_reference(net):
    model = conv_net() if net == "conv" else dense_net()
    x = images(model.inputs[0].shape[1:])
    maps = kv.visualize(model, x, rules=LRP_NAMED, target=2, progress=False)
    for name in LRP_NAMED:
        rule = kv.rules.LRP(**{"lrp-epsilon": dict(dense="epsilon", conv="epsilon", first="epsilon"),
                               "lrp-zplus": dict(dense="zplus", conv="zplus", first="zplus"),
                               "lrp-alpha2-beta1": dict(dense="alpha-beta", conv="alpha-beta",
                                                        first="alpha-beta", alpha=2.0, beta=1.0),
                               "lrp-epsilon-plus": dict(dense="epsilon", conv="zplus", first="zplus"),
                               "lrp-epsilon-plus-flat": dict(dense="epsilon", conv="zplus", first="flat"),
                               "lrp-epsilon-gamma-box": dict(dense="epsilon", conv="gamma", first="zbox",
                                                             low=None, high=None)}[name])
        assert rule.name == name
        for i in range(len(x)):
            expected = lrp_reference(model, x[i], 2, rule)
            np.testing.assert_allclose(maps[name][i], expected, rtol=2e-3, atol=2e-5 * np.abs(expected).max(),
                                       err_msg=f"{name} on the {net} net, image {i}")


@pytest.mark.parametrize("rule", [
    kv.rules.LRP(dense="gamma", conv="alpha-beta", first="wsquare", gamma=0.5, alpha=1.5, beta=0.5),
    kv.rules.LRP(dense="zplus", conv="epsilon", first="zbox", epsilon=0.1, low=-1.0, high=1.0),
    kv.rules.LRP(dense="alpha-beta", conv="gamma", first="epsilon", epsilon=0.01, gamma=1.0),
], ids=["gamma-ab-wsquare", "zplus-eps-zbox", "ab-gamma-eps"])
def test_rule_objects_match_the_reference_and_key_the_maps_by_their_repr(rule):
    model = conv_net(seed=3)
    x = images((7, 7, 2), seed=3)
    maps = kv.visualize(model, x, rules=("saliency", rule), target=1, progress=False)
    assert set(maps) == {"saliency", repr(rule)}
    for i in range(len(x)):
        expected = lrp_reference(model, x[i], 1, rule)
        np.testing.assert_allclose(maps[repr(rule)][i], expected, rtol=2e-3, atol=2e-5 * np.abs(expected).max())


def test_epsilon_on_a_bias_free_relu_net_sums_to_the_logit():
    for model in (conv_net(bias=False, seed=5), dense_net(bias=False, seed=5)):
        x = images(model.inputs[0].shape[1:], n=4, seed=5, low=0.0)
        maps = kv.visualize(model, x, rules=("lrp-epsilon",), target=0, progress=False)["lrp-epsilon"]
        logits = model(x).numpy()[:, 0]
        sums = maps.reshape(len(x), -1).sum(1)
        np.testing.assert_allclose(sums, logits, rtol=0.01)
        assert np.abs(logits).min() > 1e-3  # the check is not about zeros


def test_deeplift_matches_the_reference_and_sums_to_the_score_difference():
    model = dense_net(seed=7)
    x = images((6,), n=3, seed=7)
    baseline = np.random.default_rng(8).uniform(-0.5, 0.5, (6,)).astype(np.float32)
    rule = kv.rules.DeepLift(baseline=baseline)
    maps = kv.visualize(model, x, rules=(rule, "deeplift"), target=2, progress=False)
    delta = model(x).numpy()[:, 2] - model(baseline[None]).numpy()[0, 2]
    np.testing.assert_allclose(maps[rule.name].sum(1), delta, atol=1e-3)
    zero_delta = model(x).numpy()[:, 2] - model(np.zeros((1, 6), np.float32)).numpy()[0, 2]
    np.testing.assert_allclose(maps["deeplift"].sum(1), zero_delta, atol=1e-3)
    for i in range(len(x)):
        np.testing.assert_allclose(maps[rule.name][i], deeplift_reference(model, x[i], baseline, 2), atol=1e-5)
    assert not np.allclose(maps[rule.name], maps["deeplift"])  # the baseline matters


def test_deeplift_sums_to_delta_on_a_conv_net_with_average_pooling():
    keras.utils.set_random_seed(11)
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(4, 3, padding="same", bias_initializer="random_normal"),
        keras.layers.BatchNormalization(beta_initializer="random_normal", moving_mean_initializer="random_normal"),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3),
    ])
    x = images((8, 8, 3), n=3, seed=11)
    maps = kv.visualize(model, x, rules=("deeplift",), target=[0, 1, 2], progress=False)["deeplift"]
    scores = model(x).numpy()[np.arange(3), [0, 1, 2]]
    base = model(np.zeros_like(x)).numpy()[np.arange(3), [0, 1, 2]]
    np.testing.assert_allclose(maps.reshape(3, -1).sum(1), scores - base, atol=1e-3)


def test_deeplift_through_max_pooling_matches_the_reference_and_sums_to_delta():
    model = conv_net(seed=4, pooling="max")  # conv, ReLU, 2x2 max pooling, conv, ReLU, average pooling, dense
    for weight in model.weights:
        weight.assign(weight * 3.0)  # scores differ by more than the 1e-3 the sums are checked to
    x = images((7, 7, 2), n=3, seed=4)
    baseline = np.random.default_rng(5).uniform(-1, 1, (7, 7, 2)).astype(np.float32)
    rule = kv.rules.DeepLift(baseline=baseline)
    maps = kv.visualize(model, x, rules=(rule, "saliency"), target=[0, 1, 2], progress=False)
    delta = model(x).numpy()[np.arange(3), [0, 1, 2]] - model(baseline[None]).numpy()[0, [0, 1, 2]]
    assert np.abs(delta).min() > 0.1
    np.testing.assert_allclose(maps[rule.name].reshape(3, -1).sum(1), delta, atol=1e-3)
    for i, target in enumerate([0, 1, 2]):
        np.testing.assert_allclose(maps[rule.name][i], deeplift_reference(model, x[i], baseline, target),
                                   atol=1e-5)
    # the spans after the max poolings leave the other rules' gradient alone
    plain = kv.visualize(model, x, rules=("saliency",), target=[0, 1, 2], progress=False)["saliency"]
    np.testing.assert_allclose(maps["saliency"], plain, rtol=1e-6, atol=1e-7)


# -- saving ------------------------------------------------------------------------------

def test_saving_a_model_rewritten_for_relevance_is_refused_with_the_way_out(tmp_path):
    model = conv_net(seed=6)
    x = images((7, 7, 2), n=2, seed=6)
    rules = ("lrp-epsilon-plus-flat", "deeplift")
    for rewritten in (kv.rewrite(model, "lrp-epsilon-plus-flat"), kv.Visualizer(model, rules).model):
        with pytest.raises(kv.errors.UnsupportedModelError,
                           match=r"cannot be saved or cloned: its RelevanceSpan layers .* Save the original model "
                                 r"instead .* Received: layer '.*_kerasviz_relevance' \(RelevanceSpan\)$"):
            keras.saving.save_model(rewritten, tmp_path / "rewritten.keras")
    model.save(tmp_path / "model.keras")  # the way out: the original model, rewritten after loading
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    expected = kv.visualize(model, x, rules=rules, target=1, progress=False)
    got = kv.visualize(loaded, x, rules=rules, target=1, progress=False)
    for rule in rules:
        np.testing.assert_array_equal(got[rule], expected[rule])


# -- the engine: one call, several rules; targets; methods ---------------------------------

def test_one_call_with_several_rules_equals_separate_calls():
    model = conv_net(seed=2)
    x = images((7, 7, 2), n=3, seed=2)
    rules = ("saliency", "guided", "lrp-epsilon-plus-flat", "deeplift", kv.rules.LRP(conv="gamma"))
    together = kv.visualize(model, x, rules=rules, target=1, progress=False)
    for rule in rules:
        alone = kv.visualize(model, x, rules=(rule,), target=1, progress=False)
        name = kv.rules.canonical_name(rule)
        np.testing.assert_allclose(together[name], alone[name], rtol=1e-5, atol=1e-7)


def test_k_classes_per_sample_equal_one_class_at_a_time():
    model = conv_net(seed=4)
    x = images((7, 7, 2), n=2, seed=4)
    viz = kv.Visualizer(model, rules=("lrp-epsilon-plus", "deeplift"))
    both = viz(x, target=[[0, 2], [1, 0]], progress=False)
    for rule in viz.rules:
        assert both[rule].shape == (2, 2, 7, 7, 2)
        for k in range(2):
            one = viz(x, target=np.array([[0, 2], [1, 0]])[:, k], progress=False)[rule]
            np.testing.assert_allclose(both[rule][:, k], one, rtol=1e-4, atol=1e-7)


def test_a_neuron_target_conserves_the_neurons_value():
    model = dense_net(bias=False, seed=6)
    x = images((6,), n=2, seed=6, low=0.0)
    inner = keras.Model(model.inputs[0], model.layers[1].output)
    values = inner(x).numpy()
    unit = int(np.argmax(values[0]))
    maps = kv.visualize(model, x, rules=("lrp-epsilon",), target=kv.targets.Neuron(model.layers[1].name, unit),
                        progress=False)["lrp-epsilon"]
    np.testing.assert_allclose(maps.sum(1), values[:, unit], rtol=0.01, atol=1e-6)


def test_a_loss_target_hands_down_logits_times_the_loss_gradient():
    model = dense_net(bias=False, seed=9)
    x = images((6,), n=2, seed=9, low=0.0)
    labels = np.array([0, 2])
    maps = kv.visualize(model, x, rules=("lrp-epsilon",), target="loss", labels=labels,
                        progress=False)["lrp-epsilon"]
    logits = tf.constant(model(x).numpy())
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = tf.reduce_sum(tf.square(tf.nn.softmax(logits) - tf.one_hot(labels, 3)), axis=-1)  # kerasviz's loss
    seed = (logits * tape.gradient(loss, logits)).numpy().sum(1)
    np.testing.assert_allclose(maps.sum(1), seed, rtol=0.01)


def test_smoothgrad_over_an_lrp_rule_is_the_mean_of_the_noisy_copies_relevances():
    model = conv_net(seed=12)
    x = images((7, 7, 2), n=2, seed=12)
    smooth = kv.methods.SmoothGrad(samples=3, noise=0.1, seed=4)
    got = kv.visualize(model, x, rules=("lrp-epsilon-plus-flat",), target=1, method=smooth,
                       progress=False)["lrp-epsilon-plus-flat"]
    rule = kv.rules.LRP(first="flat")
    for i in range(2):
        copies = x[i] + smooth.noise_of(x[i], i)
        expected = np.mean([lrp_reference(model, c, 1, rule) for c in copies], axis=0)
        np.testing.assert_allclose(got[i], expected, rtol=2e-3, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("method, why", [
    (kv.methods.GradientXInput(), "already the contribution of each input"),
    (kv.methods.IntegratedGradients(steps=2), "a relevance map is no gradient"),
    (kv.methods.GradCAM(), "neither a gradient nor a relevance"),
])
def test_methods_that_make_no_sense_over_relevance_are_refused(method, why):
    model = conv_net()
    with pytest.raises(InvalidArgumentError, match=why) as err:
        kv.visualize(model, images((7, 7, 2)), rules=("guided", "lrp-epsilon"), method=method, progress=False)
    assert "lrp-epsilon" in str(err.value) and "Received: method=" in str(err.value)


# -- layers ------------------------------------------------------------------------

def _with_batchnorm(seed):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = keras.Input((6, 6, 2))
    z = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    z = keras.layers.BatchNormalization(name="bn")(z)
    z = keras.layers.ReLU()(z)
    z = keras.layers.Flatten()(z)
    outputs = keras.layers.Dense(2, name="dense")(z)
    model = keras.Model(inputs, outputs)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 2.0, 3), rng.normal(size=3), rng.normal(size=3), rng.uniform(0.5, 2.0, 3)])
    return model


def test_batchnorm_folding_equals_the_unfolded_computation():
    """The BN model's relevance equals that of one conv with the BN folded in by hand."""
    model = _with_batchnorm(13)
    conv, bn = model.get_layer("conv"), model.get_layer("bn")
    gamma, beta, mean, var = (w.astype(np.float64) for w in bn.get_weights())
    scale = gamma / np.sqrt(var + bn.epsilon)
    kernel, bias = (w.astype(np.float64) for w in conv.get_weights())
    folded = keras.Sequential([
        keras.Input((6, 6, 2)),
        keras.layers.Conv2D(3, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    ])
    folded.layers[0].set_weights([kernel * scale, (bias - mean) * scale + beta])
    folded.layers[2].set_weights(model.get_layer("dense").get_weights())
    x = images((6, 6, 2), seed=13)
    np.testing.assert_allclose(model(x).numpy(), folded(x).numpy(), rtol=1e-4, atol=1e-5)
    rules = ("lrp-zplus", "lrp-epsilon", kv.rules.LRP(conv="gamma", first="gamma"))
    a = kv.visualize(model, x, rules=rules, target=1, progress=False)
    b = kv.visualize(folded, x, rules=rules, target=1, progress=False)
    for rule in rules:
        name = kv.rules.canonical_name(rule)
        np.testing.assert_allclose(a[name], b[name], rtol=1e-3, atol=1e-6)
    # and BN is not simply passed through: the unfolded z+ (BN by its gradient) differs
    unfolded = lrp_reference(folded, x[0], 1, kv.rules.LRP(dense="zplus", conv="zplus", first="zplus"))
    np.testing.assert_allclose(a["lrp-zplus"][0], unfolded, rtol=2e-3, atol=1e-6)


def test_add_and_concatenate_share_relevance_in_proportion_to_the_contributions():
    keras.utils.set_random_seed(14)
    inputs = keras.Input((5,))
    h = keras.layers.Dense(4, activation="relu", use_bias=False, name="h")(inputs)
    h1 = keras.layers.Dense(3, use_bias=False, name="h1")(h)
    h2 = keras.layers.Dense(3, use_bias=False, name="h2")(h)
    added = keras.layers.ReLU()(keras.layers.Add()([h1, h2]))
    joined = keras.layers.Concatenate()([added, h])
    outputs = keras.layers.Dense(2, use_bias=False, name="out")(joined)
    model = keras.Model(inputs, outputs)
    x = images((5,), n=1, seed=14, low=0.0)
    got = kv.visualize(model, x, rules=("lrp-epsilon",), target=0, progress=False)["lrp-epsilon"][0]
    w = {name: model.get_layer(name).kernel.numpy().astype(np.float64) for name in ("h", "h1", "h2", "out")}
    a0 = x[0].astype(np.float64)
    ah = np.maximum(a0 @ w["h"], 0)
    z1, z2 = ah @ w["h1"], ah @ w["h2"]
    added_v = np.maximum(z1 + z2, 0)
    joined_v = np.concatenate([added_v, ah])
    out = joined_v @ w["out"]

    def eps(a, m, r):  # m: (in, out)
        return a * (m @ (r / stab(a @ m, 1e-6)))

    r_joined = eps(joined_v, w["out"], np.array([out[0], 0.0]))
    r_added, r_h = r_joined[:3], r_joined[3:].copy()
    z = z1 + z2
    r1, r2 = z1 / np.where(z == 0, 1, z) * r_added, z2 / np.where(z == 0, 1, z) * r_added
    r_h += eps(ah, w["h1"], r1) + eps(ah, w["h2"], r2)
    expected = eps(a0, w["h"], r_h)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(got.sum(), out[0], rtol=0.01)


def test_nested_models_give_the_same_relevance_as_the_flat_model():
    inner = conv_net(seed=15)
    inputs = keras.Input((7, 7, 2))
    wrapper = keras.Model(inputs, inner(inputs))
    x = images((7, 7, 2), seed=15)
    rules = ("lrp-epsilon-plus-flat", "lrp-epsilon-gamma-box", "deeplift")
    a = kv.visualize(wrapper, x, rules=rules, target=0, progress=False)
    b = kv.visualize(inner, x, rules=rules, target=0, progress=False)
    for rule in rules:
        np.testing.assert_allclose(a[rule], b[rule], rtol=1e-5, atol=1e-7)
    flat = lrp_reference(inner, x[0], 0, kv.rules.LRP(first="flat"))
    np.testing.assert_allclose(a["lrp-epsilon-plus-flat"][0], flat, rtol=2e-3, atol=1e-6)


def _with_multiply():
    keras.utils.set_random_seed(16)
    inputs = keras.Input((4,))
    h = keras.layers.Dense(3, activation="relu")(inputs)
    gated = keras.layers.Multiply(name="gate")([h, keras.layers.Dense(3)(inputs)])
    return keras.Model(inputs, keras.layers.Dense(2)(gated))


def test_a_layer_no_rule_covers_is_refused_or_warned_about():
    model = _with_multiply()
    x = images((4,), seed=16)
    with pytest.raises(KerasvizError, match=r"no rule of 'lrp-epsilon' covers the layers gate \(Multiply\)"):
        kv.visualize(model, x, rules=("lrp-epsilon",), progress=False)
    with pytest.warns(UserWarning, match=r"gate \(Multiply\).*pass the ordinary gradient"):
        maps = kv.visualize(model, x, rules=("lrp-epsilon",), on_unsupported="warn", progress=False)
    assert np.isfinite(maps["lrp-epsilon"]).all() and np.abs(maps["lrp-epsilon"]).sum() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kv.visualize(model, x, rules=("guided",), progress=False)  # the ReLU rules do not care


def test_a_fused_non_relu_activation_is_not_taken_for_a_linear_layer():
    keras.utils.set_random_seed(17)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh", name="squash"),
                              keras.layers.Dense(2)])
    with pytest.raises(KerasvizError, match=r"squash \(Dense with a fused tanh\)"):
        kv.visualize(model, images((4,)), rules=("lrp-zplus",), progress=False)


# -- rule objects and their parameters ------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(epsilon=-1e-3), r"must be >= 0.*Received: epsilon=-0.001"),
    (dict(alpha=2.0, beta=0.5), r"alpha - beta = 1.*Received: alpha=2.0, beta=0.5"),
    (dict(alpha=0.0, beta=-1.0), r"beta >= 0.*Received: alpha=0.0, beta=-1.0"),
    (dict(low=1.0, high=0.0), r"low <= high.*Received: low=1.0, high=0.0"),
    (dict(gamma=-0.1), r"must be >= 0.*Received: gamma=-0.1"),
    (dict(conv="flat"), r"first-layer rule.*first='flat'.*Received: conv='flat'"),
    (dict(dense="ab"), r"one of 'epsilon', 'zplus', 'gamma', 'alpha-beta'.*Received: dense='ab'"),
    (dict(epsilon=float("nan")), r"finite number.*Received: epsilon=nan"),
])
def test_bad_lrp_parameters_are_refused(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        kv.rules.LRP(**kwargs)


def test_bad_deeplift_baselines_are_refused():
    with pytest.raises(InvalidArgumentError, match=r"finite number or an array.*Received: baseline=nan"):
        kv.rules.DeepLift(float("nan"))
    with pytest.raises(InvalidArgumentError, match=r"shaped like one image, \(7, 7, 2\).*baseline shape=\(3,\)"):
        kv.visualize(conv_net(), images((7, 7, 2)), rules=(kv.rules.DeepLift(np.zeros(3)),), progress=False)


def test_rule_names():
    assert kv.rules.LRP(dense="epsilon", conv="zplus", first="flat").name == "lrp-epsilon-plus-flat"
    assert kv.rules.LRP(first="flat", epsilon=0.5).name == repr(kv.rules.LRP(first="flat", epsilon=0.5))
    assert kv.rules.DeepLift().name == "deeplift"
    assert kv.rules.canonical_names(("LRP-Epsilon", "deeplift", "gbp")) == ("lrp-epsilon", "deeplift", "guided")
    assert kv.rules.LRP(conv="gamma") == kv.rules.LRP(conv="gamma") != kv.rules.LRP()
    with pytest.raises(UnknownRuleError, match="relevance rules 'lrp-epsilon'"):
        kv.rules.canonical_name("lrp-epsilonn")


def test_rewrite_with_an_lrp_rule_gives_relevance_by_a_plain_tape():
    model = conv_net(seed=18)
    x = tf.constant(images((7, 7, 2), seed=18))
    rewritten = kv.rewrite(model, "lrp-zplus")
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = rewritten(x)[:, 2]
    got = tape.gradient(score, x).numpy()
    expected = lrp_reference(model, x.numpy()[0], 2, kv.rules.LRP(dense="zplus", conv="zplus", first="zplus"))
    np.testing.assert_allclose(got[0], expected, rtol=2e-3, atol=1e-6)
    assert kv.layer_paths(rewritten) == kv.layer_paths(model)  # the spans are not layers of the user's


# -- measured like the rest --------------------------------------------------------------

def test_sanity_check_scores_relevance_maps_with_the_sign_of_their_score_taken_out():
    """Class sensitivity of a relevance rule = 1 − SSIM of sign-corrected maps, computed here by hand."""
    from kerasviz.analysis import metrics, sanity_check
    from kerasviz.targets import random_other_classes

    keras.utils.set_random_seed(19)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(6),
    ])
    x = images((12, 12, 1), n=3, seed=19, low=0.0)
    report = sanity_check(model, x, rules=("saliency", "lrp-zplus"), num_random_classes=3, seed=1,
                          max_layers=1, progress=False)
    assert set(report.results) == {"saliency", "lrp-zplus"}
    logits = model(x).numpy()
    predicted = logits.argmax(-1)
    classes = np.concatenate([predicted[:, None], random_other_classes(predicted, 6, 3, 1)], axis=1)
    maps = kv.visualize(model, x, rules=("lrp-zplus",), target=classes, progress=False)["lrp-zplus"]
    signs = np.sign(np.take_along_axis(logits, classes, axis=1))
    assert (signs < 0).any() and (signs > 0).any()  # both signs occur: the correction matters here
    signed = maps * signs[:, :, None, None, None]
    ssim = np.mean([metrics.map_similarity(signed[i, 0], signed[i, j])["ssim"] for i in range(3) for j in (1, 2, 3)])
    assert report["lrp-zplus"].class_ssim == pytest.approx(ssim, abs=1e-6)
    unsigned = np.mean([metrics.map_similarity(maps[i, 0], maps[i, j])["ssim"] for i in range(3) for j in (1, 2, 3)])
    assert abs(unsigned - ssim) > 0.05
    assert report["lrp-zplus"].recovery == pytest.approx(
        np.mean([metrics.recovery(signed[i, 0], x[i])["r_image"] for i in range(3)]), abs=1e-6)


def test_a_rescaling_in_front_of_the_network_moves_relevance_without_scaling_it():
    keras.utils.set_random_seed(20)
    inner = conv_net(bias=False, seed=20)
    inputs = keras.Input((7, 7, 2))
    scaled = keras.Model(inputs, inner(keras.layers.Rescaling(1 / 255.0)(inputs)))
    x = images((7, 7, 2), n=2, seed=20, low=0.0) * 255.0
    for rule in ("lrp-epsilon", "lrp-epsilon-plus-flat", "deeplift"):
        got = kv.visualize(scaled, x, rules=(rule,), target=1, progress=False)[rule]
        expected = kv.visualize(inner, x / 255.0, rules=(rule,), target=1, progress=False)[rule]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7 * np.abs(expected).max())
    epsilon = kv.visualize(scaled, x, rules=("lrp-epsilon",), target=1, progress=False)["lrp-epsilon"]
    np.testing.assert_allclose(epsilon.reshape(2, -1).sum(1), scaled(x).numpy()[:, 1], rtol=0.01)


@pytest.mark.parametrize("kind", ["conv1d", "conv3d", "depthwise"])
def test_epsilon_conserves_the_logit_through_conv1d_conv3d_and_depthwise_layers(kind):
    keras.utils.set_random_seed(21)
    body = {
        "conv1d": ((10, 2), [keras.layers.Conv1D(3, 3, activation="relu", use_bias=False),
                             keras.layers.MaxPooling1D(2)]),
        "conv3d": ((5, 5, 5, 1), [keras.layers.Conv3D(2, 2, activation="relu", use_bias=False),
                                  keras.layers.AveragePooling3D(2)]),
        "depthwise": ((6, 6, 2), [keras.layers.Conv2D(3, 2, activation="relu", use_bias=False),
                                  keras.layers.DepthwiseConv2D(2, depth_multiplier=2, use_bias=False),
                                  keras.layers.ReLU()]),
    }[kind]
    model = keras.Sequential([keras.Input(body[0]), *body[1], keras.layers.Flatten(),
                              keras.layers.Dense(3, use_bias=False)])
    x = images(body[0], n=2, seed=21, low=0.0)
    maps = kv.visualize(model, x, rules=("lrp-epsilon", "lrp-zplus"), target=0, progress=False)
    logits = model(x).numpy()[:, 0]
    assert np.abs(logits).min() > 1e-3
    for rule in ("lrp-epsilon", "lrp-zplus"):  # z+ without biases conserves too (every z+ > 0 here)
        sums = maps[rule].reshape(2, -1).sum(1)
        np.testing.assert_allclose(sums, logits, rtol=0.01, err_msg=rule)


_THREE = ("lrp-epsilon-plus-flat", "lrp-epsilon-gamma-box", "deeplift")


@pytest.mark.slow
@pytest.mark.parametrize("name, rules", [
    ("VGG16", _THREE),
    # Each rule traces the whole net again (about 4.5 s on ResNet50): the two deep nets share the three rules.
    ("ResNet50", ("lrp-epsilon-plus-flat",)),                     # z+ through BatchNorm folding and Add
    ("MobileNetV2", ("lrp-epsilon-gamma-box", "deeplift")),       # depthwise convolutions, ReLU6
], ids=["VGG16", "ResNet50", "MobileNetV2"])
def test_keras_applications_give_finite_relevance_maps(name, rules):
    keras.utils.set_random_seed(22)
    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=4)
    x = np.random.default_rng(22).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    viz = kv.Visualizer(model, rules)
    maps = viz(x, target=[[0, 1]], progress=False)
    # MobileNetV2's random-init logits are ~1e-13: the stabilizer (1e-6) absorbs such relevance.
    alive = np.abs(viz.predict(x)[0, :2]).min() > 1e-4
    for rule in rules:
        assert maps[rule].shape == (1, 2, 32, 32, 3)
        assert np.isfinite(maps[rule]).all(), rule
        assert np.abs(maps[rule]).max() > 0 or not alive, rule
    assert alive or name == "MobileNetV2"


def test_guided_gradcam_over_a_relevance_rule_is_the_relevance_times_the_saliency_cam():
    model = conv_net(seed=23)
    x = images((7, 7, 2), n=2, seed=23)
    layer = model.layers[0].name
    guided = kv.visualize(model, x, rules=("lrp-epsilon-plus-flat",), target=1,
                          method=kv.methods.GuidedGradCAM(layer), progress=False)["lrp-epsilon-plus-flat"]
    relevance = kv.visualize(model, x, rules=("lrp-epsilon-plus-flat",), target=1, progress=False)
    cam = kv.visualize(model, x, rules=("saliency",), target=1, method=kv.methods.GradCAM(layer),
                       progress=False)["saliency"]
    np.testing.assert_allclose(guided, relevance["lrp-epsilon-plus-flat"] * cam[..., None], rtol=1e-4, atol=1e-8)
