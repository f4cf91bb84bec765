"""The Visualizer takes a `tf.data.Dataset` of images, and `jit_compile=`.

References are the Visualizer's own maps of the same images as one NumPy
array (tested elsewhere against plain `tf.GradientTape` gradients), so each
test checks that a dataset reaches exactly the same computation.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasviz as kv


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(5),
    ])


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, (10, 8, 8, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def viz(model):
    return kv.Visualizer(model, ("saliency", "guided"), batch_size=4)


@pytest.fixture(scope="module")
def expected(viz, images):
    return viz(images, target="random", progress=False)


@pytest.mark.parametrize("form", ["unbatched", "batched", "with_labels", "with_labels_and_ids", "dict"])
def test_a_dataset_gives_the_maps_of_its_images(viz, images, expected, form):
    labels = np.arange(10) % 5
    ids = [f"img{i}" for i in range(10)]
    dataset = {
        "unbatched": lambda: tf.data.Dataset.from_tensor_slices(images),
        "batched": lambda: tf.data.Dataset.from_tensor_slices(images).batch(3),
        "with_labels": lambda: tf.data.Dataset.from_tensor_slices((images, labels)),
        "with_labels_and_ids": lambda: tf.data.Dataset.from_tensor_slices((images, labels, ids)).batch(7),
        "dict": lambda: tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}),
    }[form]()
    maps = viz(dataset, target="random", progress=False)
    assert set(maps) == {"saliency", "guided"}
    for rule in maps:
        np.testing.assert_array_equal(maps[rule], expected[rule])


def test_an_infinite_dataset_is_refused(viz, images):
    dataset = tf.data.Dataset.from_tensor_slices(images).repeat()
    with pytest.raises(kv.errors.InvalidInputError) as info:
        viz(dataset)
    assert str(info.value) == (
        "The dataset is infinite (e.g. it ends with .repeat()); take a finite part "
        "with dataset.take(n). Received: images=<infinite tf.data.Dataset>"
    )


def test_images_of_different_sizes_are_refused_with_the_sizes(viz, images):
    dataset = tf.data.Dataset.from_generator(
        lambda: iter([images[0], images[1, :6, :6]]),
        output_signature=tf.TensorSpec((None, None, 3), tf.float32),
    )
    with pytest.raises(kv.errors.InvalidInputError) as info:
        viz(dataset)
    assert str(info.value) == (
        "The dataset's images differ in shape; resize them in the dataset to the "
        "model's input size (8, 8, 3) (e.g. with tf.image.resize). "
        "Received: shapes [(6, 6, 3), (8, 8, 3)]"
    )


def test_jit_compile_gives_the_same_maps(model, images, expected):
    xla = kv.Visualizer(model, ("saliency", "guided"), batch_size=4, jit_compile=True)
    assert xla.jit_compile is True
    maps = xla(images, target="random", progress=False)
    for rule in maps:
        np.testing.assert_allclose(maps[rule], expected[rule], rtol=1e-5, atol=1e-6)
