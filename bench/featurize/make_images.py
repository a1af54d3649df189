"""Make the benchmark's image sets from the repository's real photos, deterministically.

    /usr/bin/python3 bench/featurize/make_images.py OUTDIR [--small 500] [--large 400]

OUTDIR/small/: 500x375 JPEGs (quality 90), the typical size of a web or dataset
photo. Most are random crops of the three photos in testdata/images/photos,
flipped, shifted and slightly re-lit so that every file is distinct (winnow
computes identical files once, which would flatter it); one in five is a
Fashion-MNIST item from testdata/images/fmnist upscaled onto a 500x375 canvas.

OUTDIR/large/: 4000x3000 (12 MP) JPEGs (quality 90), crops of the photos
upscaled with a bicubic filter. An upscaled photo is far smoother than a camera
photo and would compress to a fraction of its size, making entropy decoding
unrealistically cheap, so mild Gaussian sensor-like noise is added; the files
come out at a few MB each, like a phone camera's.

The same arguments always give the same bytes (fixed seeds, fixed encoder
settings) on the same Pillow/libjpeg; nothing here is meant to be committed.
"""
import argparse
import glob
import os
import random

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PHOTOS = sorted(glob.glob(os.path.join(REPO, "testdata/images/photos/*.jpg")))
FMNIST = sorted(glob.glob(os.path.join(REPO, "testdata/images/fmnist/*/*.png")))


def random_view(rng, photo, w, h):
    """A 4:3 crop covering 45-100% of the photo's width, flipped and re-lit."""
    W, H = photo.size
    cw = int(W * rng.uniform(0.45, 1.0))
    ch = min(H, int(cw * h / w))
    cw = int(ch * w / h)
    x, y = rng.randint(0, W - cw), rng.randint(0, H - ch)
    im = photo.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        im = ImageOps.mirror(im)
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.8, 1.2))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.85, 1.15))
    return im


def fmnist_view(rng, item, w, h):
    """A 28x28 item upscaled to 80-100% of the height, shifted on a grey canvas."""
    g = Image.open(item).convert("L")
    side = int(h * rng.uniform(0.8, 1.0))
    g = g.resize((side, side), Image.BICUBIC)
    if rng.random() < 0.5:
        g = ImageOps.mirror(g)
    canvas = Image.new("L", (w, h), rng.randint(0, 40))
    canvas.paste(g, (rng.randint(0, w - side), rng.randint(0, h - side)))
    return canvas.convert("RGB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--small", type=int, default=500)
    ap.add_argument("--large", type=int, default=400)
    args = ap.parse_args()
    if len(PHOTOS) < 3 or not FMNIST:
        raise SystemExit(f"missing source photos under {REPO}/testdata/images")
    photos = [Image.open(p).convert("RGB") for p in PHOTOS]

    small = os.path.join(args.outdir, "small")
    os.makedirs(small, exist_ok=True)
    rng = random.Random(20240501)
    for i in range(args.small):
        if i % 5 == 4:
            im = fmnist_view(rng, FMNIST[rng.randrange(len(FMNIST))], 500, 375)
        else:
            im = random_view(rng, photos[i % len(photos)], 500, 375).resize((500, 375), Image.BICUBIC)
        im.save(os.path.join(small, f"img{i:04d}.jpg"), quality=90)

    large = os.path.join(args.outdir, "large")
    os.makedirs(large, exist_ok=True)
    rng = random.Random(20240502)
    noise = np.random.default_rng(7)
    for i in range(args.large):
        im = random_view(rng, photos[i % len(photos)], 4000, 3000).resize((4000, 3000), Image.BICUBIC)
        a = np.asarray(im, dtype=np.int16)
        a = a + noise.normal(0, 4, size=a.shape[:2] + (1,)).astype(np.int16)  # luminance noise
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        im.save(os.path.join(large, f"big{i:03d}.jpg"), quality=90)


if __name__ == "__main__":
    main()
