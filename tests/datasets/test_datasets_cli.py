"""`kerasviz explain` on a folder or glob: a dataset job writing a Zarr store."""

import numpy as np

import kerasviz as kv
from kerasviz import cli


def test_a_folder_becomes_a_store_equal_to_the_api_ones(model, photo_dir, tmp_path, capsys):
    model_path = tmp_path / "m.keras"
    model.save(model_path)
    out = tmp_path / "maps.zarr"
    argv = ["explain", str(photo_dir), "--out", str(out), "--model", str(model_path), "--rules", "gbp",
            "saliency", "--batch-size", "4"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"wrote {out}: 10 inputs, rules guided saliency, 0 unreadable"
    )
    loaded = kv.open_maps(out)
    api = kv.explain_dataset(model, photo_dir, str(tmp_path / "api.zarr"), rules=("gbp", "saliency"),
                             batch_size=4, progress=False)
    for rule in ("guided", "saliency"):
        np.testing.assert_array_equal(loaded[rule][:], api[rule][:])
    assert loaded.table.equals(api.table)

    assert cli.main(argv + ["--dtype", "float32"]) == 2  # other settings: refused, says how to restart
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(f"kerasviz: error: The store {str(out)!r} holds maps made with other settings "
                            "(dtype was 'float16', now 'float32').")
    assert "(command line: --restart)" in error
    assert cli.main(argv + ["--dtype", "float32", "--restart"]) == 0
    assert kv.open_maps(out)["guided"].dtype == np.float32


def test_a_glob_writes_maps_zarr_in_the_out_folder(model, photo_dir, tmp_path, capsys):
    model_path = tmp_path / "m.keras"
    model.save(model_path)
    assert cli.is_dataset_job(cli.build_parser().parse_args(["explain", str(photo_dir / "img0*.png")]))
    assert not cli.is_dataset_job(cli.build_parser().parse_args(["explain", str(photo_dir / "img00.png")]))
    code = cli.main(["explain", str(photo_dir / "img0[0-2].png"), "--out", str(tmp_path / "out"), "--model",
                     str(model_path), "--batch-size", "2", "--on-error", "skip"])
    assert code == 0
    store = kv.open_maps(tmp_path / "out" / "maps.zarr")
    assert store.rules == kv.RULES and len(store) == 3
    assert store.table["id"].tolist() == [str(photo_dir / f"img0{i}.png") for i in range(3)]
