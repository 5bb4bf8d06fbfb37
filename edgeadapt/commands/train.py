"""`edgeadapt train`: float training of a registered model, checkpoint + optional ONNX."""

import click

from edgeadapt.textio import write_json


@click.command("train")
@click.option("--model", "model_name", required=True, help="Registered model name (see `edgeadapt models`).")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False), help="Dataset folder.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Checkpoint to write (.pt).")
@click.option("--epochs", default=30, show_default=True, type=int, help="Maximum epochs (early stopping may end sooner).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--lr", default=1e-3, show_default=True, type=float, help="Initial Adam learning rate.")
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False), help="Also export the best model to ONNX (opset 17).")
@click.option("--init", "init", help="Start from this checkpoint of the same model (.pt or zoo:small).")
@click.option("--aux-head", is_flag=True, help="Add outputs 5 and 6, trained with the model: logit of 'the teacher is markedly better here' and the predicted own error.")
@click.option("--teacher", help="Big model whose per-frame errors define the switching target (.pt or zoo:big).")
@click.option("--aux-margin", default=0.2, show_default=True, type=float, help="Error gap (sum over outputs) that makes a frame positive.")
@click.option("--aux-weight", default=0.1, show_default=True, type=float, help="Weight of the two aux losses (BCE + L1).")
@click.option("--aux-only", is_flag=True,
              help="With --aux-head: train only the aux outputs on the frozen --init model (pose outputs unchanged).")
@click.option("--photometric", is_flag=True, help="Also randomize exposure, contrast, gamma and noise per frame.")
@click.option("--zoom", "max_zoom", default=1.0, show_default=True, type=float,
              help="Zoom half the frames in by up to this factor (x becomes x / s); 1 = off.")
@click.option("--threads", default=2, show_default=True, type=int,
              help="CPU threads for torch (results are bit-identical only for the same count).")
@click.option("--quiet", is_flag=True, help="One line per epoch on stderr instead of progress bars.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the training record to this JSON file ('-': stdout).")
def command(model_name, data_dir, out, epochs, seed, batch_size, lr, onnx_path, init, aux_head, teacher, aux_margin,
            aux_weight, aux_only, photometric, max_zoom, threads, quiet, json_path):
    """Train MODEL on DATA; print the per-output MAE table on val and test."""
    from edgeadapt.errors import EdgeadaptError
    from edgeadapt.evaluate import metrics_table
    from edgeadapt.train import train

    if max_zoom < 1.0:
        raise EdgeadaptError(f"--zoom must be >= 1 (got {max_zoom})")
    if threads < 1:
        raise EdgeadaptError(f"--threads must be >= 1 (got {threads})")
    if teacher is not None and not aux_head:
        raise EdgeadaptError("--teacher is only used with --aux-head")
    record = train(
        model_name, data_dir, out, epochs=epochs, seed=seed, batch_size=batch_size, lr=lr, onnx=onnx_path,
        aux_head=aux_head, teacher=teacher, init=init, aux_margin=aux_margin, aux_weight=aux_weight, aux_only=aux_only,
        photometric_aug=photometric, max_zoom=max_zoom, threads=threads, progress=not quiet, on_epoch=_log_epoch if quiet else None,
    )
    click.echo(
        f"{model_name}: best epoch {record['best_epoch']} of {record['epochs_run']} run, {record['seconds']:.0f} s; "
        f"saved {record['out']}" + (f" and {record['onnx']}" if "onnx" in record else "")
    )
    for split in ("val", "test"):
        click.echo(f"\n{split} ({record['frames'][split]} frames)")
        click.echo(metrics_table(record[split]))
        if "aux" in record:
            a = record["aux"][split]
            click.echo(f"aux heads: switching positives {a['positive_rate']:.1%}, accuracy {a['accuracy']:.1%}, "
                       f"AUC {a['auc']:.3f}; predicted error MAE {a['confidence_mae']:.3f}, "
                       f"correlation {a['confidence_corr']:.3f}, AUC for switching {a['confidence_auc']:.3f}")
    if json_path:
        write_json(json_path, record)


def _log_epoch(entry):
    click.echo(
        f"epoch {entry['epoch']}: train loss {entry['train_loss']:.4f}, val loss {entry['val_loss']:.4f}, "
        f"lr {entry['lr']:.2g}, best epoch {entry['best_epoch']}",
        err=True,
    )
