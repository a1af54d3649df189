"""PIL's decode + resize of each JPEG in a folder, on one thread: the peer of
bench/featurize/decodeonly. Image.draft() (libjpeg's DCT scaling, the fastest
way PIL has) then the same pad resize as torch_pipeline.py.

    python3 bench/featurize/pil_draft.py DIR [--repeat 2] [--no-draft]

Last line: "pil: N images, D CPU ms/image draft+resize".
"""
import argparse
import glob
import io
import os
import time

from PIL import Image

from torch_pipeline import SIZE, PadResize


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-draft", action="store_true")
    a = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(a.dir, "*.jpg")))
    if not paths:
        raise SystemExit(f"pil_draft.py: no *.jpg in {a.dir}")
    files = [open(p, "rb").read() for p in paths]  # outside the timing, as decodeonly
    fit = PadResize()

    def one_pass():
        c0 = time.process_time()
        for b in files:
            with Image.open(io.BytesIO(b)) as im:
                if not a.no_draft:
                    im.draft("RGB", (SIZE, SIZE))
                fit(im.convert("RGB"))
        return time.process_time() - c0

    one_pass()  # warm-up
    best = min(one_pass() for _ in range(a.repeat))
    what = "decode+resize" if a.no_draft else "draft+resize"
    print(f"pil: {len(files)} images, {1000 * best / len(files):.2f} CPU ms/image {what}")


if __name__ == "__main__":
    main()
