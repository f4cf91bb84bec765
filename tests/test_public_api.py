"""The public API: its stable names, and the TensorFlow-only import."""

import os
import subprocess
import sys

import keras

import kerasviz as kv

# The stable public names: renaming one needs a deprecation period (docs/api.md documents them).
STABLE_NAMES = ("RULES", "rewrite", "visualize", "Visualizer", "callbacks")


def test_all_lists_designs_stable_names():
    for name in STABLE_NAMES:
        assert name in kv.__all__, name
        assert getattr(kv, name) is not None
    assert isinstance(kv.rewrite(_tiny_model(), "gbp"), keras.Model)
    assert issubclass(kv.callbacks.VisualizationCallback, keras.callbacks.Callback)


def _tiny_model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu")])


def test_every_name_in_all_exists_and_all_has_no_duplicates():
    assert len(set(kv.__all__)) == len(kv.__all__)
    for name in kv.__all__:
        assert hasattr(kv, name), name


def test_rules_are_the_papers_three_in_order():
    assert kv.RULES == ("saliency", "deconvnet", "guided")
    assert kv.rules.RULES is kv.RULES


def test_error_types_are_builtin_types_too():
    errors = kv.errors
    assert issubclass(errors.UnknownRuleError, ValueError)
    assert issubclass(errors.InvalidInputError, ValueError)
    assert issubclass(errors.UnsupportedModelError, TypeError)
    for name in ("UnknownRuleError", "UnknownTargetError", "InvalidInputError", "InvalidTargetError",
                 "UnsupportedModelError", "UnsupportedActivationError"):
        assert issubclass(getattr(errors, name), errors.KerasvizError), name


def _import_under(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    code = (
        "import sys\n"
        "try:\n"
        "    import kerasviz\n"
        "except ImportError as err:\n"
        "    print('ImportError:', err)\n"
        "else:\n"
        "    lazy = ('kerasviz.render', 'kerasviz.analysis', 'kerasviz.callbacks', 'kerasviz.zoo')\n"
        "    print('imported', [name for name in lazy if name in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_under_the_jax_backend_raises_a_clear_import_error():
    assert _import_under("jax") == (
        "ImportError: kerasviz needs the TensorFlow backend of Keras 3: its backward rules "
        "are tf.custom_gradient functions. Unset KERAS_BACKEND or set "
        "KERAS_BACKEND=tensorflow before importing keras. Received: KERAS_BACKEND='jax'"
    )


def test_importing_under_tensorflow_leaves_the_heavy_submodules_for_later():
    """`kv.render`, `kv.analysis`, ... are imported on first use, not by `import kerasviz`."""
    assert _import_under("tensorflow") == "imported []"
