"""The `kerasviz` console command prints its own lines only.

`--help` builds the parser with the standard library (no TensorFlow, so it is
instant and silent); a command that runs imports TensorFlow with its C++
start-up log (absl's banner, oneDNN, missing CUDA drivers, cuInit) filtered,
unless the user set `TF_CPP_MIN_LOG_LEVEL`. These run in subprocesses because
what they check is a fresh process's imports and its file descriptor 2.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.io

from kerasviz import cli

ROOT = Path(__file__).resolve().parents[1]

STARTUP_NOISE = ("cuInit", "oneDNN", "absl::InitializeLog", "cuda drivers", "cpu_feature_guard")
HELP_ARGV = (["--help"], ["explain", "--help"], ["reproduce", "--help"], ["view", "--help"])


def _env(**extra) -> dict:
    """The test process's environment without TF_CPP_MIN_LOG_LEVEL (conftest sets it), fixed width."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, "COLUMNS": "100", **extra}


def _in_process_help(argv, capsys, monkeypatch) -> str:
    """What `cli.main(argv)` prints in this process, as wide as in the subprocesses."""
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_help_imports_no_tensorflow_and_prints_only_the_usage(capsys, monkeypatch):
    """`kerasviz [COMMAND] --help` as the console script runs it, three times in one fresh process."""
    code = (
        "import sys\n"
        "sys.argv[0] = 'kerasviz'  # as the console script starts\n"
        "from kerasviz.cli import main\n"
        f"for argv in {HELP_ARGV!r}:\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, exit.code\n"
        "    print('<end>')\n"
        "print(sorted(name for name in ('tensorflow', 'keras', 'numpy') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env=_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    *helps, imported = result.stdout.split("<end>\n")
    assert helps == [_in_process_help(argv, capsys, monkeypatch) for argv in HELP_ARGV]
    assert imported == "[]\n"


def test_python_dash_m_kerasviz_help_is_the_same_silent_usage(capsys, monkeypatch):
    result = subprocess.run([sys.executable, "-m", "kerasviz", "explain", "--help"], capture_output=True,
                            text=True, cwd=ROOT, env=_env(), timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == _in_process_help(["explain", "--help"], capsys, monkeypatch)


def test_building_the_parser_imports_no_tensorflow():
    code = ("import sys; sys.argv[0] = 'kerasviz'; import kerasviz.cli; kerasviz.cli.build_parser(); "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(),
                            timeout=120)
    assert (result.stdout, result.stderr) == ("False\n", "")


def test_an_explain_run_prints_no_tensorflow_startup_lines(tmp_path):
    """The smallest real run: one 28x28 image through the shipped Fashion-MNIST net, one rule."""
    image = tmp_path / "shirt.png"
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    skimage.io.imsave(image, pixels, check_contrast=False)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "kerasviz", "explain", str(image), "--model", "fashion_cnn",
         "--rules", "saliency", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if any(s in line for s in STARTUP_NOISE)] == []
    assert result.stdout.splitlines()[-1] == f"wrote {out / 'maps.png'} and {out / 'maps.npz'}"
    assert np.load(out / "maps.npz")["saliency"].shape == (1, 28, 28, 1)


# A captured start-up log of TensorFlow 2.21 on a machine without a GPU, plus lines that must survive.
_CAPTURED = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1795991238.942053   10039 port.cc:153] oneDNN custom operations are on. You may see slightly \
different numerical results due to floating-point round-off errors from different computation orders.
I0000 00:00:1795991238.942373   10039 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU \
will not be used.
W0000 00:00:1795991239.052340   10039 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.
E0000 00:00:1795991246.203495   10039 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: \
Failed call to cuInit: UNKNOWN ERROR (303)
E0000 00:00:1795991246.203495   10039 dso_loader.cc:12] Could not load dynamic library 'libtensorflow_io.so'
F0000 00:00:1795991246.203495   10039 logging.cc:1] Check failed: ok
/usr/lib/python3/site-packages/foo.py:3: UserWarning: something the user should see
"""


def test_only_startup_noise_is_filtered():
    kept = [line for line in _CAPTURED.splitlines() if not cli._is_startup_noise(line)]
    assert kept == [
        "E0000 00:00:1795991246.203495   10039 dso_loader.cc:12] Could not load dynamic library "
        "'libtensorflow_io.so'",
        "F0000 00:00:1795991246.203495   10039 logging.cc:1] Check failed: ok",
        "/usr/lib/python3/site-packages/foo.py:3: UserWarning: something the user should see",
    ]


def test_a_users_tf_cpp_min_log_level_is_left_alone(monkeypatch):
    """With TF_CPP_MIN_LOG_LEVEL set, the command neither changes it nor imports TensorFlow under a
    redirected stderr (it leaves the import to the command, which then logs as the user asked)."""
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delitem(sys.modules, "tensorflow")  # as if TensorFlow were not loaded yet
    cli._start_tensorflow_quietly()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert "tensorflow" not in sys.modules


def test_a_broken_command_module_fails_loudly_and_keeps_its_subcommand(monkeypatch, capsys):
    """The parser imports nothing, so a module that cannot be imported cannot hide `reproduce`:
    running it raises the ImportError (with its traceback) instead."""
    import kerasviz.analysis

    monkeypatch.delattr(kerasviz.analysis, "reproduce", raising=False)
    monkeypatch.setitem(sys.modules, "kerasviz.analysis.reproduce", None)
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "{explain,reproduce,view}" in capsys.readouterr().out
    with pytest.raises(ImportError):
        cli.main(["reproduce", "--smoke", "--out", "unused"])


def test_the_console_commands_import_is_light_and_the_core_loads_on_first_use():
    """While the `kerasviz` command starts, `import kerasviz` loads no TensorFlow; the first use of a core
    name loads the core (and registers kerasviz's layers); `kv.rewrite` stays the function even when
    the submodule was imported first."""
    code = (
        "import sys\n"
        "sys.argv[0] = 'kerasviz'  # as the console script starts\n"
        "import kerasviz as kv\n"
        "print('tensorflow' in sys.modules)\n"
        "import kerasviz.rewrite\n"
        "print(kv.rewrite is sys.modules['kerasviz.rewrite'].rewrite, kv.Visualizer.__module__)\n"
        "import keras\n"
        "print(keras.saving.get_registered_object('kerasviz>SubtractMean') is kv.layers.SubtractMean)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env=_env(TF_CPP_MIN_LOG_LEVEL="3"), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "False\nTrue kerasviz.visualizer\nTrue\n"


def test_a_library_import_registers_kerasviz_layers_before_keras_is_imported(tmp_path):
    """`import kerasviz` alone (then `import keras`) is enough for `keras.saving.load_model` of a saved
    kerasviz model: outside the console command the core loads at import."""
    code = (
        "import sys\n"
        "import kerasviz\n"
        "print('tensorflow' in sys.modules)\n"
        "import keras\n"
        "print([keras.saving.get_registered_object(f'kerasviz>{name}') is not None\n"
        "       for name in ('SubtractMean', 'SoftmaxRemoved', 'RuleReLU')])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env=_env(TF_CPP_MIN_LOG_LEVEL="3"), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "True\n[True, True, True]\n"


def test_warnings_are_recorded_inside_catch_warnings_record_only():
    """The check the command's one-line warnings use: recording is seen, the default is not.

    In a fresh interpreter: pytest records every test's warnings itself.
    """
    import subprocess
    import sys

    script = (
        "import warnings\n"
        "from kerasviz import cli\n"
        "seen = [cli._warnings_are_recorded()]\n"
        "with warnings.catch_warnings(record=True):\n"
        "    seen.append(cli._warnings_are_recorded())\n"
        "with warnings.catch_warnings():\n"
        "    seen.append(cli._warnings_are_recorded())\n"
        "print(seen)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.stdout.strip().splitlines()[-1] == "[False, True, False]"
