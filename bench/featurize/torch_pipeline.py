"""The PyTorch + PIL pipeline that `winnow featurize` is compared with.

    /usr/bin/python3 bench/featurize/torch_pipeline.py --model resnet18 --weights W.pt --dir DIR \
        [--batch 32 --threads 2 --workers 2 --resize pad|crop --tuned --warmup 64 --repeat 1 --infer-only]

What a careful PyTorch user would write: a Dataset that opens each file with
PIL, converts to RGB, resizes, and turns it into a normalised tensor; a
DataLoader with `--workers` worker processes and batches of `--batch`; the
torchvision model in eval mode under torch.no_grad() with
torch.set_num_threads(`--threads`). Features are copied out of each batch, as
they would be to save them.

--resize pad (winnow's default): scale so the longer side is 224 with PIL's
  antialiased BILINEAR, centre on a 224x224 canvas of the ImageNet mean colour.
--resize crop: torchvision's Resize(224) (shorter side, BILINEAR, antialiased)
  + CenterCrop(224), the usual ImageNet evaluation transform.
--tuned: what a PyTorch user who cares about speed adds: PIL's Image.draft(),
  which lets libjpeg decode at a reduced DCT scale as winnow does, and a frozen
  TorchScript model from torch.jit.optimize_for_inference (batch norm folded
  into the convolutions, oneDNN layouts). On Debian's PyTorch 1.13 this alone
  makes inference 2-3x faster than eager mode; few pipelines do it.
--infer-only: skip the images and time the model on random tensors, the
  PyTorch counterpart of bench/featurize/ortonly.

Timing covers the whole loop, from creating the DataLoader iterator (worker
start-up included) to the last batch's features. A warm-up pass over the first
--warmup images comes first (PyTorch's eager mode is slow enough that a full
warm-up pass would dominate the benchmark's run time), then the best of
--repeat full passes. Prints "torch: N images, S s, R images/s" last.
"""
import argparse
import glob
import os
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
SIZE = 224


class PadResize:
    """Longer side to SIZE, aspect kept, centred on the mean colour (winnow's --resize pad)."""

    fill = tuple(round(255 * m) for m in MEAN)

    def __call__(self, img):
        w, h = img.size
        s = SIZE / max(w, h)
        rw, rh = max(1, round(w * s)), max(1, round(h * s))
        img = img.resize((rw, rh), Image.BILINEAR)
        canvas = Image.new("RGB", (SIZE, SIZE), self.fill)
        canvas.paste(img, ((SIZE - rw) // 2, (SIZE - rh) // 2))
        return canvas


class Images(torch.utils.data.Dataset):
    def __init__(self, paths, resize, draft=False):
        self.paths, self.draft = paths, draft
        fit = PadResize() if resize == "pad" else transforms.Compose(
            [transforms.Resize(SIZE, interpolation=transforms.InterpolationMode.BILINEAR), transforms.CenterCrop(SIZE)])
        self.tf = transforms.Compose([fit, transforms.ToTensor(), transforms.Normalize(MEAN, STD)])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            if self.draft:
                # Largest DCT reduction that keeps both sides >= SIZE, so the
                # resize still does the final antialiased reduction.
                im.draft("RGB", (SIZE, SIZE))
            return self.tf(im.convert("RGB"))


def build(name, weights, tuned):
    if name == "resnet18":
        m = torchvision.models.resnet18(weights=None)
        m.fc = torch.nn.Identity()
    else:
        m = torchvision.models.mobilenet_v2(weights=None)
        m.classifier = torch.nn.Identity()
    if weights:
        m.load_state_dict(torch.load(weights))
    m.eval()
    if tuned:
        with torch.no_grad():
            m = torch.jit.optimize_for_inference(torch.jit.script(m))
    return m


def compare(csv_path, paths, feats):
    """Cosine similarity between winnow's and PyTorch's features of each image.

    The two pipelines share the weights but not the JPEG decoder or the
    resampler, so the features differ slightly; a low similarity would mean
    the benchmark compares different work (wrong channel order, normalisation,
    resize mode or output layer).
    """
    by_name = {}
    with open(csv_path) as f:
        next(f)
        for line in f:
            path, rest = line.split(",", 1)
            by_name[os.path.basename(path)] = np.array(rest.split(","), dtype=np.float32)
    win = np.stack([by_name[os.path.basename(p)] for p in paths])
    # A random-weight network gives every image a similar, all-positive
    # feature vector, so raw cosines are all near 1. Centre both on PyTorch's
    # mean feature first; then the same image must still match (near 1) while
    # a different image (the next one) must not.
    mu = feats.mean(axis=0)

    def cos(a, b):
        a, b = a - mu, b - mu
        return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    same, other = cos(win, feats), cos(win, np.roll(feats, 1, axis=0))
    print(f"agreement: winnow vs PyTorch features of {len(paths)} images, centred cosine similarity: "
          f"same image mean {same.mean():.4f} min {same.min():.4f}; different image mean {other.mean():.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["resnet18", "mobilenet_v2"], required=True)
    ap.add_argument("--weights", default="")
    ap.add_argument("--dir", default="")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--resize", choices=["pad", "crop"], default="pad")
    ap.add_argument("--tuned", action="store_true")
    ap.add_argument("--warmup", type=int, default=64, help="images in the warm-up pass")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--infer-only", action="store_true")
    ap.add_argument("--images", type=int, default=500, help="with --infer-only: images per pass")
    ap.add_argument("--compare", default="",
                    help="CSV from `winnow features export`: report how close winnow's features are to these")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = build(args.model, args.weights, args.tuned)

    if args.infer_only:
        x = torch.randn(args.batch, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))

        def one_pass(n):
            feats = []
            with torch.no_grad():
                for done in range(0, n, args.batch):
                    feats.append(model(x[: min(args.batch, n - done)]).numpy().copy())
            return feats

        n = args.images
    else:
        paths = sorted(glob.glob(os.path.join(args.dir, "*.jpg")))
        if not paths:
            raise SystemExit(f"no .jpg in {args.dir}")
        ds = Images(paths, args.resize, args.tuned)

        def one_pass(n):
            sub = ds if n == len(ds) else torch.utils.data.Subset(ds, range(n))
            loader = torch.utils.data.DataLoader(sub, batch_size=args.batch, num_workers=args.workers, shuffle=False)
            feats = []
            with torch.no_grad():
                for x in loader:
                    feats.append(model(x).numpy().copy())
            return feats

        n = len(paths)

    one_pass(min(n, args.warmup))
    best = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        feats = one_pass(n)
        best = min(best, time.perf_counter() - t)
    rows = sum(len(f) for f in feats)
    assert rows == n, (rows, n)
    if args.compare and not args.infer_only:
        compare(args.compare, paths, np.concatenate(feats))
    print(f"torch: torch {torch.__version__}, threads {torch.get_num_threads()}, workers {args.workers}, "
          f"batch {args.batch}, resize {args.resize}{', tuned (draft + TorchScript)' if args.tuned else ''}, "
          f"features {feats[0].shape[1]}")
    print(f"torch: {n} images, {best:.3f} s, {n / best:.1f} images/s")


if __name__ == "__main__":
    main()
