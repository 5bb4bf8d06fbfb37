"""Train a small CNN on scikit-learn's bundled digits and export it to ONNX (no download).

    python examples/digits_classifier.py npz --out build/digits.npz
    edgeadapt dataset import build/digits.npz --out build/digits
    python examples/digits_classifier.py train --data build/digits --out build/digits.onnx

`npz` writes scikit-learn's 1797 digits as a .npz of uint8 images and class ids; `train` trains on
the imported folder's train split for a fixed number of epochs with a fixed seed (one thread, so
every machine gets the same model), prints the float top-1 on the test split and exports ONNX. The network takes the raw 8x8 pixels as the data folder stores
them (uint8 0..255) and starts with its own normalization, x / 255 - 0.5, as an exported model
trained in torchvision style would: `edgeadapt quantize` reads it from the graph and folds it into
the first convolution.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgeadapt.data import load_split  # noqa: E402
from edgeadapt.data.importers import import_dataset  # noqa: E402


class Normalize(nn.Module):
    """x / 255 - 0.5: exported as the graph's leading Div and Sub."""

    def forward(self, x):
        return x / 255.0 - 0.5


def digits_net(classes=10) -> nn.Module:
    return nn.Sequential(
        Normalize(),
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes),
    )


def digits_arrays():
    """scikit-learn's 1797 digits (pixel values 0..16) scaled to uint8 0..255, and their class ids."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def write_npz(path) -> None:
    images, labels = digits_arrays()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, images=images, labels=labels)


def write_digits(data_dir, seed=0) -> None:
    """The same folder as `edgeadapt dataset import` of write_npz's file gives (--seed 0)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "digits.npz"
        write_npz(src)
        import_dataset(src, data_dir, seed=seed)


def as_input(images) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32))[:, None]


def train(data_dir, epochs=60, seed=0) -> nn.Module:
    """Deterministic: one torch thread (thread counts change float reduction order), fixed seeds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(data_dir, epochs, seed)
    finally:
        torch.set_num_threads(threads)


def _train(data_dir, epochs, seed) -> nn.Module:
    torch.manual_seed(seed)
    frames = load_split(data_dir, "train")
    x, y = as_input(frames.images), torch.from_numpy(frames.labels.astype(np.int64))
    net = digits_net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(x), generator=gen).split(64):
            # a one-pixel random shift: the digits are small, this is most of the augmentation they need
            dy, dx = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen))
            batch = torch.roll(x[idx], shifts=(dy, dx), dims=(2, 3))
            opt.zero_grad()
            nn.functional.cross_entropy(net(batch), y[idx]).backward()
            opt.step()
        sched.step()
    return net.eval()


def top1(net, data_dir, split="test") -> float:
    frames = load_split(data_dir, split)
    with torch.no_grad():
        pred = net(as_input(frames.images)).argmax(dim=1).numpy()
    return float((pred == frames.labels).mean())


def export(net, path) -> None:
    with torch.no_grad():
        torch.onnx.export(net, (torch.zeros(1, 1, 8, 8),), str(path), opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="step", required=True)
    npz = sub.add_parser("npz", help="write the digits as a .npz for `edgeadapt dataset import`")
    npz.add_argument("--out", default="build/digits.npz")
    tr = sub.add_parser("train", help="train on an imported folder and export ONNX")
    tr.add_argument("--data", default="build/digits", help="the imported dataset folder")
    tr.add_argument("--out", default="build/digits.onnx", help="ONNX model to write")
    tr.add_argument("--epochs", type=int, default=60)
    tr.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.step == "npz":
        write_npz(args.out)
        print(f"wrote {args.out}")
        return
    net = train(args.data, args.epochs, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    export(net, args.out)
    print(f"wrote {args.out}: float top-1 on the test split {100 * top1(net, args.data):.2f} %")


if __name__ == "__main__":
    main()
