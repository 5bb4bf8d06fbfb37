"""`edgeadapt dataset`: generate the synthetic data set, describe a data folder, preview frames."""

import time

import click

from edgeadapt.splits import SPLITS
from edgeadapt.textio import format_table, write_json


@click.group("dataset")
def command():
    """Synthetic pose sequences, PULP-Frontnet folders and imported datasets of any task."""


@command.command("import")
@click.argument("source", type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="General dataset folder to write (meta.json, train/val/test.npz).")
@click.option("--labels", "labels_csv", type=click.Path(dir_okay=False), help="CSV of labels for an image folder: a file column, then one class column or K regression columns; optional split and sequence columns.")
@click.option("--task", type=click.Choice(["classification", "regression", "none"]), help="Override the task read from the labels.")
@click.option("--channels", type=click.Choice(["1", "3"]), help="Convert the images to greyscale (1) or RGB (3).")
@click.option("--val-fraction", default=0.15, show_default=True, type=float, help="Share of frames (whole sequences) held out for val, when the source has no splits.")
@click.option("--test-fraction", default=0.15, show_default=True, type=float, help="Share held out for test, when the source has no splits.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the split assignment.")
def import_(source, out_dir, labels_csv, task, channels, val_fraction, test_fraction, seed):
    """Import SOURCE (an image folder, a .npz of arrays or PULP-Frontnet pickles) as a general dataset."""
    from edgeadapt.data.importers import import_dataset

    meta = import_dataset(source, out_dir, labels_csv, task, None if channels is None else int(channels),
                          val_fraction, test_fraction, seed)
    inp = meta["input"]
    what = {"classification": f"{len(meta.get('classes', []))} classes",
            "regression": f"{len(meta.get('outputs', []))} outputs ({', '.join(meta.get('outputs', []))})",
            "none": "no labels"}[meta["task"]]
    click.echo(format_table(["split", "frames"], [[s, v["frames"]] for s, v in meta["splits"].items()]))
    click.echo(f"wrote {out_dir}: {inp['width']}x{inp['height']}x{inp['channels']} {inp['dtype']}, {meta['task']}, {what}")


@command.command("synth")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write (meta.json, train/val/test/test-unseen.npz).")
@click.option("--frames", default=8000, show_default=True, type=int, help="Total frames over the four splits (65/13/11/11 % train/val/test/test-unseen).")
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed gives byte-identical files.")
@click.option("--size", default="160x96", show_default=True, type=click.Choice(["160x96", "80x48"]), help="Frame size (W x H).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the summary to this JSON file ('-': stdout).")
def synth(out_dir, frames, seed, size, quiet, json_path):
    """Render temporally coherent sequences of a person seen from a nano-drone."""
    from edgeadapt.console import progress

    from edgeadapt.data.synth import generate, plan_sequences

    plan_sequences(frames, seed)  # fail fast on a bad --frames before touching the folder
    with progress(total=frames, desc="synth", unit="frame", **({"disable": True} if quiet else {})) as bar:
        meta = generate(out_dir, frames, seed, size, progress=bar.update)
    rows = [[s, v["frames"], len(v["sequences"]), len(v["subjects"])] for s, v in meta["splits"].items()]
    click.echo(format_table(["split", "frames", "sequences", "subjects"], rows))
    click.echo(f"wrote {out_dir} ({size}, seed {seed}) in {meta['seconds']:.1f} s "
               f"({1000 * meta['seconds'] / max(frames, 1):.2f} ms/frame)")
    if json_path:
        write_json(json_path, {"out": str(out_dir), "size": size, "seed": seed, "frames": frames,
                               "seconds": meta["seconds"], "splits": meta["splits"]})


@command.command("info")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False), help="Dataset folder.")
@click.option("--size", type=click.Choice(["160x96", "80x48"]), help="Which Frontnet pickles, when a folder holds both.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures to this JSON file ('-': stdout).")
def info(data_dir, size, json_path):
    """Per split: frames, sequences, subjects, label ranges, and the mean predictor's MAE."""
    from edgeadapt.data.summary import describe

    started = time.time()
    summary = describe(data_dir, size)
    if summary["kind"] == "general":
        _print_general(summary)
        summary["seconds"] = round(time.time() - started, 2)
        if json_path:
            write_json(json_path, summary)
        return
    click.echo(f"{data_dir}: {summary['kind']} dataset, {summary['size']} frames")
    rows = [[s, d["frames"], d["sequences"], d["subjects"], d["trivial_mae_sum"]] for s, d in summary["splits"].items()]
    click.echo(format_table(["split", "frames", "sequences", "subjects", "trivial MAE (sum)"], rows))
    click.echo("")
    rows = []
    for name in ("x", "y", "z", "phi"):
        for split, d in summary["splits"].items():
            lab = d["labels"][name]
            rows.append([name, split, lab["mean"], lab["std"], lab["min"], lab["max"], d["trivial_mae"][name]])
    click.echo(format_table(["output", "split", "mean", "std", "min", "max", "trivial MAE"], rows))
    shares = {s: d.get("conditions") for s, d in summary["splits"].items() if d.get("conditions")}
    if shares:
        names = list(next(iter(shares.values())))
        click.echo("\nshare of frames in difficulty episodes")
        click.echo(format_table(["split"] + names, [[s] + [v[n] for n in names] for s, v in shares.items()]))
    summary["seconds"] = round(time.time() - started, 2)
    if json_path:
        write_json(json_path, summary)


def _print_general(summary):
    click.echo(f"{summary['data']}: general dataset, {summary['size']}x{summary['channels']} {summary['dtype']}, "
               f"task {summary['task']}")
    if summary["task"] == "classification":
        classes = summary["classes"]
        rows = [[s, d["frames"], d["sequences"]] + d["class_counts"] for s, d in summary["splits"].items()]
        click.echo(format_table(["split", "frames", "sequences"] + [f"class {c}" for c in classes], rows))
        return
    click.echo(format_table(["split", "frames", "sequences"], [[s, d["frames"], d["sequences"]] for s, d in summary["splits"].items()]))
    if summary["task"] == "regression":
        rows = []
        for name in summary["outputs"]:
            for split, d in summary["splits"].items():
                if "labels" in d:
                    lab = d["labels"][name]
                    rows.append([name, split, lab["mean"], lab["std"], lab["min"], lab["max"],
                                 d.get("trivial_mae", {}).get(name, "-")])
        click.echo("")
        click.echo(format_table(["output", "split", "mean", "std", "min", "max", "trivial MAE"], rows))


@command.command("preview")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False), help="Dataset folder.")
@click.option("--split", default="test", show_default=True, type=click.Choice(list(SPLITS)))
@click.option("--out", "out_png", required=True, type=click.Path(dir_okay=False), help="PNG contact sheet to write.")
@click.option("--count", default=36, show_default=True, type=int, help="Frames on the sheet (evenly spaced).")
@click.option("--start", default=0, show_default=True, type=int, help="First frame.")
@click.option("--step", default=0, type=int, help="Frame step (default: spread over the split).")
def preview(data_dir, split, out_png, count, start, step):
    """Write a contact sheet of frames with the labelled head position marked in red."""
    from edgeadapt.data import dataset_kind, load_split
    from edgeadapt.data.preview import contact_sheet, save_png
    from edgeadapt.data.store import read_extra
    from edgeadapt.errors import EdgeadaptError

    frames = load_split(data_dir, split)
    n = len(frames)
    if count < 1 or not 0 <= start < n:
        raise EdgeadaptError(f"{data_dir} ({split}): --count must be >= 1 and --start within 0..{n - 1}")
    step = step or max(1, (n - start) // count)
    indices = list(range(start, n, step))[:count]
    synthetic = dataset_kind(data_dir) == "synthetic"
    pitch = read_extra(data_dir, split, "pitch") if synthetic else None
    roll = read_extra(data_dir, split, "roll") if synthetic else None  # test-unseen only
    save_png(out_png, contact_sheet(frames, indices, pitch=pitch, roll=roll))
    click.echo(f"wrote {out_png}: {len(indices)} frames of {split}, from {indices[0]} every {step}")
