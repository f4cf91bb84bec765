"""`kerasviz reproduce` end to end through `kerasviz.cli.main`, and its error paths."""

import argparse
import dataclasses
import importlib.resources
import json
import re

import keras
import pytest

from kerasviz import cli
from kerasviz.analysis import reproduce


def _shipped(name: str) -> bool:
    return importlib.resources.files("kerasviz").joinpath("weights", name).is_file()


def _weights() -> str:
    return "trained" if _shipped("fashion_cnn.weights.h5") else "random"


@pytest.mark.slow
def test_reproduce_quick_writes_every_claim_the_report_and_the_figures(tmp_path, capsys):
    """The CI run of `kerasviz reproduce --quick` (a few minutes on 2 cores)."""
    out = tmp_path / "repro"
    status = cli.main(["reproduce", "--quick", "--weights", _weights(), "--out", str(out), "--no-progress"])
    assert status == 0
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    nets = ["fashion_cnn"] + (["fashion_vgg"] if _weights() == "trained" and _shipped("fashion_vgg.weights.h5")
                              else [])
    assert [(c["id"], c["net"]) for c in payload["claims"]] == (
        [(f"C{i}", None) for i in range(1, 8)] + [(cid, net) for cid in ("C8", "C9", "C10") for net in nets]
        + [("C11", None)])
    assert all(isinstance(c["holds"], bool) for c in payload["claims"])
    # The random-network claims hold at the quick sizes too (C8-C11 depend on the trained net).
    holding = {c["id"] for c in payload["claims"] if c["holds"]}
    assert {f"C{i}" for i in range(1, 8)} <= holding, payload["claims"]
    assert {r["experiment"] for r in payload["records"]} == {"E1", "E2", "E3", "E4", "E5", "E6", "E7"}
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    for name in ("maps_grid.png", "recovery_vs_filters.png", "fc_vs_cnn.png", "randomization.png",
                 "similarity_bars.png", "input_independence.png"):
        assert (out / name).is_file() and f"]({name})" in text
    for claim in payload["claims"]:  # one table row per (claim, net), the verdict of that net's records
        net = claim["net"] or "random nets"
        assert any(line.startswith(f"| {claim['id']} | {claim['claim']} | {net} | ") for line in text.splitlines())
    _check_relevance_section(payload, text, nets)
    page = (out / "REPORT.html").read_text(encoding="utf-8")
    figures = text.count("\n![")
    assert figures >= 6 and page.count("<img ") == figures == page.count('src="data:image/png;base64,')
    printed = capsys.readouterr().out
    assert " hold" in printed and " C11  " in printed and str(out / "REPORT.html") in printed


def _check_relevance_section(payload, text, nets):
    """The relevance rules' rows: one table for the random nets and one per trained net, a finite number per cell."""
    section = payload["relevance"]
    rules = list(reproduce.QUICK.relevance_rules)
    assert rules and section["rules"] == rules
    assert [t["net"] for t in section["tables"]] == [None, *nets]
    for table in section["tables"]:
        assert [row["rule"] for row in table["rows"]] == ["saliency", "guided", *rules]
        for row in table["rows"]:
            assert len(row["cells"]) == len(table["measures"])
            assert all(isinstance(c["mean"], float) and -1 <= c["mean"] <= 1 for c in row["cells"]), row
    heading = "## Relevance rules (LRP, DeepLIFT) on C1 and C8–C10"
    assert heading in text
    own = text.split(heading)[1].split("\n## ")[0]
    assert own.count("\n| saliency | ") == len(section["tables"]) and "not measured" not in own
    assert all(own.count(f"\n| {rule} | ") == len(section["tables"]) for rule in rules)


def test_relevance_rules_are_checked_before_anything_runs(tmp_path):

    from kerasviz.errors import InvalidArgumentError

    settings = dataclasses.replace(reproduce.SMOKE, relevance_rules=("gbp",))
    with pytest.raises(InvalidArgumentError, match="Settings.relevance_rules lists named relevance rules"):
        reproduce.reproduce(settings, out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_the_plan_maps_the_relevance_rules_where_the_section_reads_them():
    """E2 at N = 64, the random VGG-16, E5 cascading, E6 and E7 carry the relevance rules; nothing else does."""

    from kerasviz.analysis import experiments as ex

    calls = []

    def spy(name):
        def record_rules(*args, rules=ex.RULES, **kwargs):
            calls.append((name, kwargs.get("filters", kwargs.get("protocols")), tuple(rules)))
            return []
        return record_rules

    settings = dataclasses.replace(reproduce.SMOKE, relevance_rules=("lrp-zplus",), protocols=("part", "only"))
    net = reproduce.load_trained("random", settings.image_names)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("e2_random_cnn", "e4_random_vgg", "e5_randomization", "e6_class_pairs", "e7_adversarial"):
            patch.setattr(ex, name, spy(name))
        for step in reproduce.plan(settings, net, []):
            if not step.label.startswith(("E1", "E3", "E4 trained", "figure")):
                step.run()
    with_relevance = (*ex.RULES, "lrp-zplus")
    assert calls == [("e2_random_cnn", (4,), ex.RULES), ("e2_random_cnn", (64,), with_relevance),
                     ("e4_random_vgg", None, with_relevance), ("e5_randomization", ("part",), with_relevance),
                     ("e5_randomization", ("only",), ex.RULES), ("e6_class_pairs", None, with_relevance),
                     ("e7_adversarial", None, with_relevance)]


def test_imagenet_weights_offline_give_a_clear_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")  # what keras.utils.get_file raises offline

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    out = tmp_path / "repro"
    status = cli.main(["reproduce", "--smoke", "--weights", "imagenet", "--out", str(out), "--no-progress"])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("kerasviz: error: Cannot get the ImageNet VGG-16 weights")
    assert "Traceback" not in err and "Received: weights='imagenet'" in err
    assert not out.exists()  # it failed before running anything


def test_missing_weights_file_is_reported(tmp_path, capsys):
    status = cli.main(["reproduce", "--weights", str(tmp_path / "nope.weights.h5"), "--out", str(tmp_path)])
    assert status == 2
    assert f"Received: --weights {tmp_path / 'nope.weights.h5'}" in capsys.readouterr().err


def test_a_weights_file_of_another_architecture_is_reported(tmp_path, capsys):
    path = tmp_path / "other.weights.h5"
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save_weights(path)
    status = cli.main(["reproduce", "--weights", str(path), "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert "fits none of kv.zoo.fashion_cnn(), kv.zoo.fashion_vgg() and kv.zoo.vgg16()" in err
    assert "Received: --weights" in err


def test_strict_exits_1_when_a_claim_does_not_hold(monkeypatch, tmp_path, capsys):
    calls = []

    def fake(settings, *, weights, out, progress):
        calls.append((settings.mode, weights, out, progress))
        verdicts = [{"id": "C1", "claim": "GBP recovers the image", "holds": True},
                    {"id": "C2", "claim": "saliency is noise", "holds": False}]
        return {"claims": verdicts, "records": [], "seconds": 1.0,
                "paths": {"report": "R", "html": "H", "results": "J", "figures": []}}

    monkeypatch.setattr(reproduce, "reproduce", fake)
    assert cli.main(["reproduce", "--full", "--out", str(tmp_path), "--no-progress"]) == 0
    assert cli.main(["reproduce", "--strict", "--weights", "random", "--out", str(tmp_path)]) == 1
    assert calls == [("full", "trained", str(tmp_path), False), ("quick", "random", str(tmp_path), True)]
    assert "C2  does not hold" in capsys.readouterr().out


def test_quick_and_full_are_mutually_exclusive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reproduce", "--quick", "--full"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_full_settings_use_the_papers_sizes():
    full = reproduce.FULL
    assert full.cnn_size == 224 and full.cnn_filters == (1, 4, 16, 64, 256)
    assert full.fc_size == 64 and full.fc_hidden == (1000, 5000, 20000, 70000)
    assert len(full.seeds) >= 3 and len(full.image_names) >= 4 and len(full.trained_seeds) >= 3
    assert full.class_pairs >= 20 and full.fixed_epsilons == (1, 2, 4, 8)
    assert full.width_study and not reproduce.QUICK.width_study and not reproduce.SMOKE.width_study
    # Quick keeps S = N_h / (π² d) of the paper's FC sweep at 32×32×3.
    assert [h * 64 * 64 // (reproduce.QUICK.fc_size ** 2) for h in reproduce.QUICK.fc_hidden] == list(full.fc_hidden)


def test_reproduce_help_lists_the_modes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reproduce", "--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    for option in ("--quick", "--full", "--smoke", "--weights", "--out", "--no-progress", "--strict"):
        assert option in printed
    assert cli.REPRODUCE_DEFAULT_OUT == reproduce.DEFAULT_OUT


def test_the_imagenet_path_runs_e4_to_e7_on_raw_rgb(monkeypatch):
    """`--weights imagenet` cannot be downloaded here: a small RGB net stands in for VGG-16 to check the
    plumbing (photos in [0, 255], x = RGB − mean, FGSM on the 0–255 grid)."""
    from kerasviz import zoo

    def stand_in(weights=None, **kwargs):
        assert weights == "imagenet"
        return zoo.cnn3(filters=4, input_shape=(32, 32, 3), num_classes=5, seed=0)

    monkeypatch.setattr(zoo, "vgg16", stand_in)
    trained = reproduce.load_trained("imagenet", ("chelsea", "coffee"))
    assert trained.value_range == (0.0, 255.0)
    steps = reproduce.plan(reproduce.SMOKE, trained, [])
    records = [r for step in steps if step.label.startswith(("E4 trained", "E5", "E6", "E7"))
               for r in step.run()]
    assert {r["experiment"] for r in records} == {"E4", "E5", "E6", "E7"}
    assert {r["image"] for r in records if r["experiment"] == "E4"} == {"chelsea", "coffee"}
    linf = [r["value"] for r in records if r["metric"] == "linf" and r["value"] > 0]
    assert linf and all(abs(v - round(v)) < 1e-3 for v in linf)  # whole grey levels of 0–255


def test_the_old_argument_names_of_reproduce_say_where_they_went():
    """`reproduce.add_arguments`, `HELP` and `DESCRIPTION` moved to `kerasviz.cli` (no import cycle)."""
    with pytest.raises(AttributeError, match=r"^kerasviz\.analysis\.reproduce\.add_arguments was removed: .* "
                       r"use kerasviz\.cli\.add_reproduce_arguments instead\.$"):
        reproduce.add_arguments  # noqa: B018
    for name in ("HELP", "DESCRIPTION"):
        with pytest.raises(AttributeError, match=rf"reproduce\.{name} was removed: .*kerasviz\.cli\.build_parser\(\)"):
            getattr(reproduce, name)


def test_a_weights_file_of_a_shipped_architecture_replaces_that_net(tmp_path):
    from kerasviz import zoo

    path = tmp_path / "other_cnn.weights.h5"
    zoo.fashion_cnn(seed=7).save_weights(path)
    nets, notes = reproduce.load_trained_nets(str(path), reproduce.QUICK)
    assert nets[0].key == "fashion_cnn" and str(path) in nets[0].name
    for mine, saved in zip(nets[0].model.get_weights(), zoo.fashion_cnn(seed=7).get_weights()):
        assert (mine == saved).all()
    if _shipped("fashion_vgg.weights.h5"):
        assert [net.key for net in nets] == ["fashion_cnn", "fashion_vgg"] and notes == []
    else:
        assert [net.key for net in nets] == ["fashion_cnn"]
        assert notes and notes[0].startswith("fashion_vgg left out: No trained weights for fashion_vgg width 64")


def test_the_width_study_runs_e5_and_e6_on_each_width_and_tags_the_records():
    """A stand-in net plays fashion_vgg width 16: its records carry net, width and study, and get no claim rows."""

    from kerasviz.analysis import claims

    main = reproduce.load_trained("random")
    narrow = dataclasses.replace(main, key="fashion_vgg_w16", width=16)
    steps = reproduce.plan(reproduce.SMOKE, [main], [], width_nets=[narrow])
    width_steps = [step for step in steps if step.net == "fashion_vgg_w16"]
    assert [step.label for step in width_steps] == ["E5 part fashion_vgg_w16 seed 0",
                                                    "E6 class pairs fashion_vgg_w16 seed 0"]
    records = [r for step in width_steps for r in step.run()]
    assert {(r["experiment"], r["net"], r["width"], r["study"]) for r in records} == {
        ("E5", "fashion_vgg_w16", 16, "width"), ("E6", "fashion_vgg_w16", 16, "width")}
    assert claims.trained_nets(records) == [None]  # the width study gets no verdict rows


def test_the_width_study_loads_every_shipped_width_and_notes_the_missing_ones():
    from kerasviz import zoo

    assert reproduce.load_width_nets(reproduce.QUICK) == ([], [])
    nets, notes = reproduce.load_width_nets(reproduce.FULL)
    found = {net.width for net in nets}
    missing = {width for width in zoo.FASHION_VGG_WIDTHS
               if any(note.startswith(f"width study: fashion_vgg width {width} left out") for note in notes)}
    assert found | missing == set(zoo.FASHION_VGG_WIDTHS) and not found & missing
    assert all(_shipped(zoo._fashion_vgg_weights_name(w)) for w in found)
    assert not any(_shipped(zoo._fashion_vgg_weights_name(w)) for w in missing)
    assert {net.key for net in nets} == {"fashion_vgg" if w == 64 else f"fashion_vgg_w{w}" for w in found}


def test_an_unknown_shipped_net_is_refused_before_anything_loads():

    settings = dataclasses.replace(reproduce.SMOKE, trained_nets=("fashion_cnn", "resnet"))
    message = ("Settings.trained_nets names the shipped nets 'fashion_cnn' and 'fashion_vgg' only. "
               "Received: trained_nets=('fashion_cnn', 'resnet')")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        reproduce.load_trained_nets("trained", settings)


def test_the_preamble_says_when_the_settings_are_not_the_modes_own():
    changed = dataclasses.replace(reproduce.SMOKE, seeds=(3,))
    assert "with settings changed from Python" in reproduce._preamble(changed, [], "trained", 60.0, [])
    assert "with settings changed from Python" not in reproduce._preamble(reproduce.SMOKE, [], "trained", 60.0, [])
