"""Every script in `examples/` runs offline with `--smoke` and measures what it says it shows.

Each example's `main(["--smoke", "--out", tmp_path])` runs in this process
(what `python examples/X.py --smoke --out tmp_path` calls), which saves a
TensorFlow start-up per example; `explain_vgg16.py` runs in a subprocess,
exactly as a user starts a script, so that the scripts' start-up stays
tested. The test checks the exit status,
the files written (PNG sizes, event files), that the numbers written to its
JSON are the ones it printed, and the paper's property the example is about,
computed on the smoke settings.
"""

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TIMEOUT_S = 240

pytestmark = pytest.mark.slow


def run_example_script(name: str, out: Path) -> str:
    """Run `python examples/{name} --smoke --out out` in a subprocess; return its stdout (fails on a non-zero exit)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--smoke", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


def run_example(name: str, out: Path) -> str:
    """`main(["--smoke", "--out", out])` of `examples/{name}` in this process; its stdout (fails unless it returns 0)."""
    example = _load_example(Path(name).stem)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = example.main(["--smoke", "--out", str(out)])
    assert status in (0, None), f"{name} returned {status}\n{printed.getvalue()}"
    return printed.getvalue()


def assert_png(path: Path, min_kb: float) -> None:
    assert path.is_file(), f"{path} was not written"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > min_kb * 1024, f"{path} is only {len(data)} bytes"


def _event_tags(run_dir: Path) -> set[str]:
    """Every summary tag written to the event files of one TensorBoard run."""
    import tensorflow as tf

    return {
        value.tag
        for path in run_dir.glob("events.out.tfevents.*")
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
    }


def assert_printed(stdout: str, *values: float) -> None:
    """The measured numbers appear in the output, as the example prints them (3 decimals)."""
    for value in values:
        assert f"{value:.3f}" in stdout, f"{value:.3f} not printed:\n{stdout}"


def test_explain_vgg16(tmp_path):
    """Random VGG-16: GBP recovers the photos, saliency does not (claim C7)."""
    stdout = run_example_script("explain_vgg16.py", tmp_path)
    assert_png(tmp_path / "vgg16_maps.png", 50)
    results = json.loads((tmp_path / "results.json").read_text())
    rules = results["rules"]
    assert set(rules) == {"saliency", "deconvnet", "guided"}
    for values in rules.values():
        assert all(-1.0 <= v <= 1.0 for v in values.values())
        assert_printed(stdout, values["r_image"], values["r_image_demeaned"], values["ssim_image"])
    assert rules["guided"]["r_image"] > rules["saliency"]["r_image"] + 0.3
    import numpy as np

    saved = np.load(tmp_path / "vgg16_maps.npz")
    assert saved["guided"].shape == saved["images"].shape == (2, 64, 64, 3)


def _load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_explain_vgg16_imagenet_offline_says_what_to_do(tmp_path, monkeypatch, capsys):
    """Without the weights file and the network, `--weights imagenet` explains itself and exits 2."""
    import kerasviz as kv

    example = _load_example("explain_vgg16")

    def offline(*args, **kwargs):
        raise kv.errors.WeightsUnavailableError("Cannot get the ImageNet VGG-16 weights (offline).")

    monkeypatch.setattr(kv.zoo, "vgg16", offline)
    assert example.main(["--weights", "imagenet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "the ImageNet weights are not available offline" in err
    assert "Run without --weights imagenet" in err
    assert not list(tmp_path.iterdir())
    with pytest.raises(SystemExit) as exit_info:  # argparse refuses a size fc1 cannot take
        example.parse_args(["--weights", "imagenet", "--size", "64"])
    assert exit_info.value.code == 2
    assert "--weights imagenet needs --size 224" in capsys.readouterr().err


def test_random_networks(tmp_path):
    """Recovery grows with N, DeconvNet ignores the input without max-pooling and gets edges with it."""
    stdout = run_example("random_networks.py", tmp_path)
    for name in ("recovery_vs_filters.png", "fc_vs_cnn.png", "max_pool.png", "maps_grid.png"):
        assert_png(tmp_path / name, 20)
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["filters"]
    assert [row["filters"] for row in rows] == [4, 16, 64]
    for row in rows:
        assert_printed(stdout, row["r_gbp"], row["theory"], row["r_saliency"])
    r_gbp = [row["r_gbp"] for row in rows]
    assert r_gbp == sorted(r_gbp), f"r(GBP, x) should grow with N: {r_gbp}"
    assert abs(rows[-1]["r_gbp"] - rows[-1]["theory"]) < 0.15
    assert abs(rows[-1]["r_saliency"]) < 0.1
    fc = results["fc_vs_cnn"]
    assert max(row["r_gbp"] for row in fc["fc"]) < fc["cnn_r_gbp"]
    pool = results["max_pool"]
    assert pool["cnn/deconvnet"]["input_independence"] > 0.999  # C3: the same map for two photos
    assert pool["cnn_maxpool/deconvnet"]["highpass"] > pool["cnn/deconvnet"]["highpass"] + 0.3  # C6
    assert_printed(stdout, pool["cnn/deconvnet"]["input_independence"], pool["cnn_maxpool/deconvnet"]["highpass"])
    assert {r["experiment"] for r in results["records"]} == {"E1", "E2", "E3"}


def test_train_with_callback(tmp_path):
    """TensorBoard and the callback share one log_dir; PNGs and scalars are written per epoch."""
    stdout = run_example("train_with_callback.py", tmp_path)
    logs = tmp_path / "logs"
    for run in ("train", "validation", "kerasviz"):
        events = list((logs / run).glob("events.out.tfevents.*"))
        assert events and events[0].stat().st_size > 0, f"no events in {logs / run}"
    assert _event_tags(logs / "kerasviz") >= {
        f"kerasviz/{rule}{suffix}" for rule in ("saliency", "deconvnet", "guided")
        for suffix in ("", "/class_sensitivity", "/recovery")
    }
    assert "epoch_loss" in _event_tags(logs / "train")
    for epoch in (0, 1):
        assert_png(tmp_path / "png" / f"epoch_{epoch:04d}.png", 5)
    assert_png(tmp_path / "scalars.png", 10)
    assert f"tensorboard --logdir {logs}" in stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert [row["epoch"] for row in results["epochs_log"]] == [0, 1]
    last = results["epochs_log"][-1]
    for rule in ("saliency", "deconvnet", "guided"):
        assert_printed(stdout, last[rule]["class_sensitivity"], last[rule]["recovery"])
    # GBP's map hardly depends on the class explained; saliency's does.
    assert last["guided"]["class_sensitivity"] < 0.5 * last["saliency"]["class_sensitivity"]


def test_sanity_checks(tmp_path):
    """On the shipped trained net, saliency reflects the decision and GBP is mostly image recovery."""
    stdout = run_example("sanity_checks.py", tmp_path)
    assert_png(tmp_path / "sanity.png", 20)
    markdown = (tmp_path / "sanity.md").read_text()
    assert "| guided |" in markdown and "Cascading randomization" in markdown
    summary = json.loads((tmp_path / "sanity.json").read_text())
    rules = summary["rules"]
    for result in rules.values():
        assert_printed(stdout, result["class_sensitivity"], result["randomization_sensitivity"])
        assert result["verdict"] in stdout
    assert rules["saliency"]["verdict"] == "reflects the decision"
    assert rules["guided"]["verdict"] == "mostly image recovery"
    assert rules["guided"]["class_sensitivity"] < rules["saliency"]["class_sensitivity"] - 0.5
    assert rules["guided"]["randomization_sensitivity"] < rules["saliency"]["randomization_sensitivity"]


def test_adversarial(tmp_path):
    """FGSM flips the class; the GBP maps of x and x_adv stay more alike than saliency's."""
    stdout = run_example("adversarial.py", tmp_path)
    assert_png(tmp_path / "adversarial.png", 20)
    results = json.loads((tmp_path / "results.json").read_text())
    flipped = [i for i, f in enumerate(results["flipped"]) if f]
    assert flipped, "no image flipped"
    for i in flipped:
        assert results["class_adv"][i] != results["class_x"][i]
        assert 0 < results["epsilon_grey_levels"][i] <= 32
    similarity = results["similarity"]
    for rule, values in similarity.items():
        assert set(values) == {"spearman_abs", "spearman_signed", "ssim", "ssim_abs_max", "hog"}
        assert_printed(stdout, *values.values())
    assert similarity["guided"]["ssim"] > similarity["saliency"]["ssim"]


def test_trust_table(tmp_path):
    """Every (method, rule) pair; the CAM makes GBP's map class-sensitive (Guided Grad-CAM); the relevance table."""
    stdout = run_example("trust_table.py", tmp_path)
    assert_png(tmp_path / "sanity_fashion_cnn.png", 20)
    markdown = (tmp_path / "trust_table.md").read_text()
    # Header, separator; 8 methods x 3 rules on the Fashion-MNIST CNN (--smoke: that net only).
    assert markdown.count("\n") == 2 + 8 * 3
    networks = json.loads((tmp_path / "trust_table.json").read_text())["networks"]
    assert set(networks) == {"fashion_cnn"}
    network = networks["fashion_cnn"]
    results = network["report"]["rules"]
    assert len(results) == 24
    for result in results.values():
        assert_printed(stdout, result["class_sensitivity"], result["randomization_sensitivity"],
                       result["deletion"], result["insertion"], result["mu_fidelity"])
        assert result["verdict"] in stdout
    assert results["saliency"]["verdict"] == "reflects the decision"
    assert results["guided"]["verdict"] == "mostly image recovery"
    assert results["guided-gradcam:guided"]["class_sensitivity"] > results["guided"]["class_sensitivity"] + 0.2
    # The relevance rules' table, saliency as the baseline.
    relevance = network["relevance"]["rules"]
    assert set(relevance) == {"saliency", "lrp-zplus", "deeplift"}
    assert_png(tmp_path / "sanity_fashion_cnn_relevance.png", 20)
    for label, result in relevance.items():
        if result["rule"] != "saliency":
            assert_printed(stdout, result["class_sensitivity"], result["randomization_sensitivity"])
            assert f"| {result['verdict']} |" in (tmp_path / "trust_table_relevance.md").read_text(), label


def test_view_fashion(tmp_path):
    """The store of 24 test images and a broken file, and its static viewer: one entry per input."""
    import numpy as np
    from PIL import Image

    import kerasviz as kv

    stdout = run_example("view_fashion.py", tmp_path)
    summary = json.loads((tmp_path / "view.json").read_text())
    table = kv.open_maps(tmp_path / "maps.zarr").table
    assert (summary["inputs"], summary["errors"]) == (25, 1) == (len(table), (table["status"] != "ok").sum())
    ok = table[table["status"] == "ok"]
    assert summary["lowest_scores"] == ok.sort_values("score")["id"].head(5).tolist()
    assert f"open {summary['index']}?sort=score" in stdout
    site = tmp_path / "site"
    data = json.loads((site / "table.js").read_text()[len("window.KV_DATA = "):-2])
    assert data["columns"]["id"] == table["id"].tolist() and data["rules"] == ["saliency", "deconvnet", "guided"]
    for kind in ("_input", "saliency", "deconvnet", "guided"):
        assert {int(p.stem) for p in (site / "thumb" / kind).rglob("*.png")} == set(ok.index)
    first = ok.index[0]
    photo = np.asarray(Image.open(table["id"][first]).convert("RGB"))
    shown = np.asarray(Image.open(site / "thumb" / "_input" / "0" / f"{first}.png"))
    np.testing.assert_array_equal(shown, photo)  # 28x28 fits a thumbnail: the file itself


def test_faithfulness(tmp_path):
    """Deletion, insertion and MuFidelity of every map on both trained nets; the image itself scores well."""
    stdout = run_example("faithfulness.py", tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert set(results) == {"fashion_cnn", "fashion_vgg"}
    for key, rows in results.items():
        assert len(rows) == 4 * 3 + 2 + 2  # 4 gradient methods x 3 rules, Occlusion, RISE, 2 references
        for row in rows.values():
            assert_printed(stdout, row["deletion"], row["insertion"], row["mu_fidelity"])
        image, random = rows["reference: the image |x|"], rows["reference: random map"]
        # a map that knows nothing of the model but where the garment is beats a random map on deletion
        assert image["deletion"] < random["deletion"] and image["insertion"] > random["insertion"], key
        assert rows["occlusion"]["mu_fidelity"] > random["mu_fidelity"], key
    assert (tmp_path / "faithfulness.md").read_text().count("\n") == 2 + 2 * 16


def test_planted_evidence_scores_by_hand():
    """The mass share and r(map, x) of examples/planted_evidence.py against hand-computed values."""
    import numpy as np

    example = _load_example("planted_evidence")
    maps = np.array([[1.0, -3.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0], [2.0, 2.0, -1.0, -1.0]])
    evidence = np.array([[True, True, False, False], [True, False, False, False], [False, False, True, True]])
    # |m| on the evidence / Σ|m|: 4/8 and 2/6; the all-zero map is left out
    assert example.mass_share(maps, evidence) == pytest.approx((4 / 8 + 2 / 6) / 2)
    # text: (N, T, E) maps, one mass per token (summed over E)
    tokens = np.array([[[1.0, -1.0], [0.5, 0.5], [0.0, 3.0]]])
    assert example.mass_share(tokens, np.array([[False, True, True]]), (2,)) == pytest.approx(4 / 6)
    x = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 2.0], [4.0, 3.0, 2.0, 0.0]])
    r = [np.corrcoef(maps[i], x[i])[0, 1] for i in (0, 2)]  # the constant map has no r
    assert example.input_correlation(maps, x) == pytest.approx(np.mean(r))


def test_planted_evidence(tmp_path):
    """Every task × method × rule scored and printed; chance is the planted evidence's share of the input."""
    import numpy as np

    stdout = run_example("planted_evidence.py", tmp_path)
    tasks = json.loads((tmp_path / "results.json").read_text())["tasks"]
    chance = {"series": 10 / 128, "breast_cancer": 30 / 90, "friedman": 5 / 10, "text": 2 / 16,
              "image_meta (image)": 16 / 256, "image_meta (meta)": 1 / 6,
              "segmentation": None}  # the squares' share of the pixels: drawn at random
    assert set(tasks) == set(chance)
    markdown = (tmp_path / "planted_evidence.md").read_text()
    squares = np.arange(4, 8) ** 2 / 24**2
    assert squares.min() <= tasks["segmentation"]["chance"] <= squares.max()
    chance["segmentation"] = tasks["segmentation"]["chance"]
    for name, task in tasks.items():
        assert task["chance"] == pytest.approx(chance[name])
        assert f"**{name}**" in markdown and f"chance {chance[name]:.3f}" in stdout
        assert set(task["methods"]) == {"gradient", "gradient_x_input", "smoothgrad", "integrated_gradients"}
        for rules in task["methods"].values():
            assert set(rules) == {"saliency", "deconvnet", "guided"}
            for values in rules.values():
                assert 0.0 <= values["share"] <= 1.0 and -1.0 <= values["r"] <= 1.0
                assert_printed(stdout, values["share"], values["r"])
    assert markdown.count("| Integrated Gradients |") == len(chance)
    for name in ("series", "breast_cancer", "friedman", "text", "segmentation", "image_meta"):
        assert_png(tmp_path / f"{name}.png", 5)


def test_vit_fashion(tmp_path):
    """A ViT trained on Fashion-MNIST: saliency, GBP (GELUs follow the rule) and token Grad-CAM on the 4×4 patch grid."""
    stdout = run_example("vit_fashion.py", tmp_path)
    assert_png(tmp_path / "vit_fashion.png", 20)
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["recovery"]) == {"saliency", "guided"}
    for rule, r in results["recovery"].items():
        assert -1.0 <= r <= 1.0
        assert f"r(map, x) {rule:<9} {r:.3f}" in stdout
    assert results["cam_shape"] == [2, 28, 28]  # the 4×4 token grid, upsampled to the image
    assert all(peak >= 0 for peak in results["cam_max"])  # a CAM is the ReLU of a weighted sum


def test_relevance_vs_gbp(tmp_path):
    """z+ and GBP: every rule's row is printed; on the trained CNN z+ is class-blind where saliency is not."""
    stdout = run_example("relevance_vs_gbp.py", tmp_path)
    tables = json.loads((tmp_path / "relevance_vs_gbp.json").read_text())
    assert set(tables) == {"vgg16_random", "fashion_cnn"}
    for table in tables.values():
        assert set(table) == set(_load_example("relevance_vs_gbp").RULES)
        assert table["guided"]["r_gbp"] == pytest.approx(1.0)
        for row in table.values():
            assert_printed(stdout, *row.values())
    cnn = tables["fashion_cnn"]
    assert cnn["lrp-zplus"]["ssim_class"] > cnn["saliency"]["ssim_class"] + 0.3
