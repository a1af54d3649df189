#!/usr/bin/env bash
# Regenerates testdata/images/ from files shipped in Debian packages. Run from anywhere:
#
#   testdata/make-images.sh
#
# Needs (Debian 12): python3-pil python3-numpy python3-sklearn python3-matplotlib dataset-fashion-mnist
# imagemagick libimage-exiftool-perl libjpeg-turbo-progs (jpegtran).
#
# Output is byte-for-byte reproducible with the same tool versions: nothing embeds a time stamp, random
# bytes come from SHA-256 of fixed strings, and PNGs are written without tIME/text chunks. Other versions
# of libjpeg/zlib/libwebp/Pillow may produce different (equally valid) bytes; tests must therefore not
# hard-code checksums, only properties (sizes, tags, pixel similarity).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/images"

# /usr/bin/python3 on purpose: a pyenv or venv python3 earlier in PATH usually lacks Debian's PIL/numpy.
PY="${PYTHON:-/usr/bin/python3}"
CONVERT="${CONVERT:-/usr/bin/convert}"

SKLEARN_IMAGES="${SKLEARN_IMAGES:-/usr/lib/python3/dist-packages/sklearn/datasets/images}"
GRACE_HOPPER="${GRACE_HOPPER:-/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg}"
FMNIST="${FMNIST:-/usr/share/datasets/fashion-mnist}"

need() {
	for f in "$@"; do
		if [[ ! -e "$f" ]]; then
			echo "make-images.sh: missing $f (see the package list at the top of this script)" >&2
			exit 1
		fi
	done
}
need "$PY" "$CONVERT" "$SKLEARN_IMAGES/china.jpg" "$SKLEARN_IMAGES/flower.jpg" "$GRACE_HOPPER" \
	"$FMNIST/t10k-images-idx3-ubyte.gz" "$FMNIST/t10k-labels-idx1-ubyte.gz"
for tool in jpegtran exiftool; do
	command -v "$tool" >/dev/null || { echo "make-images.sh: $tool not found" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Start from empty folders so a rerun leaves exactly the generated set (hand-written README.md files stay).
for d in photos orient formats hostile fmnist; do
	mkdir -p "$out/$d"
	find "$out/$d" -mindepth 1 ! -name README.md -delete
done

# --- photos: upstream files, unmodified -------------------------------------------------------------
cp "$SKLEARN_IMAGES/china.jpg" "$SKLEARN_IMAGES/flower.jpg" "$out/photos/"
cp "$GRACE_HOPPER" "$out/photos/grace_hopper.jpg"
chmod 644 "$out/photos/"*.jpg

# --- everything that is easiest with Pillow/numpy ------------------------------------------------------
"$PY" - "$out" "$tmp" "$GRACE_HOPPER" "$SKLEARN_IMAGES/flower.jpg" "$FMNIST" <<'PYEOF'
import gzip
import hashlib
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

out, tmp, grace, flower, fmnist = sys.argv[1:6]


def pseudo_random(tag, n):
    """n deterministic bytes: SHA-256 in counter mode, stable across Python/numpy versions."""
    buf = bytearray()
    i = 0
    while len(buf) < n:
        buf += hashlib.sha256(f"winnow-testdata/{tag}/{i}".encode()).digest()
        i += 1
    return bytes(buf[:n])


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, arr, bit_depth, color_type):
    """Minimal PNG writer for what Pillow cannot write (16-bit RGB) or must not (bomb header)."""
    h, w = arr.shape[:2]
    raw = arr.astype(">u2" if bit_depth == 16 else "u1").reshape(h, -1).tobytes()
    stride = len(raw) // h
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
                png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b""))


# ---- orient: the displayed image (later turned into orient-N.jpg by jpegtran + exiftool) ----
# grace_hopper.jpg is 512x600; crop the centre to 3:4 and shrink to 120x160 (both multiples of 8, so
# jpegtran can rotate/flip losslessly with -perfect).
g = Image.open(grace).convert("RGB")
gw, gh = g.size
cw = gh * 3 // 4
left = (gw - cw) // 2
g = g.crop((left, 0, left + cw, gh)).resize((120, 160), Image.LANCZOS)
# 4:4:4 chroma so every MCU is 8x8 and all eight transforms are exact in the DCT domain.
g.save(os.path.join(tmp, "orient-base.jpg"), quality=95, subsampling=0)

# ---- formats: one 160x107 picture in many encodings ----
f = Image.open(flower).convert("RGB")
W, H = 160, 107
# Resize each channel in floating point so the 16-bit files carry real extra precision (their low byte
# is not a copy of the high byte) and the 8-bit files are exactly their rounding.
chans = [np.asarray(c.convert("F").resize((W, H), Image.LANCZOS), dtype=np.float64) for c in f.split()]
rgbf = np.clip(np.stack(chans, axis=-1), 0, 255)
rgb8 = np.round(rgbf).astype(np.uint8)
rgb16 = np.round(rgbf * 257).astype(np.uint16)
yf = rgbf @ np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma, as JPEG/JFIF and Go's color.GrayModel
gray8 = np.round(np.clip(yf, 0, 255)).astype(np.uint8)
gray16 = np.round(np.clip(yf, 0, 255) * 257).astype(np.uint16)

fmt = os.path.join(out, "formats")
base = Image.fromarray(rgb8, "RGB")
base.save(os.path.join(tmp, "formats-base.png"))  # input for ImageMagick's CMYK conversion
gray = Image.fromarray(gray8, "L")
gray.save(os.path.join(fmt, "gray.jpg"), quality=95)
gray.save(os.path.join(fmt, "gray.png"))
write_png(os.path.join(fmt, "gray16.png"), gray16, 16, 0)
write_png(os.path.join(fmt, "rgb16.png"), rgb16, 16, 2)
pal = base.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
pal.save(os.path.join(fmt, "palette.png"))
pal.save(os.path.join(fmt, "palette.gif"))
alpha = np.full((H, W), 255, dtype=np.uint8)
alpha[:, : W // 2] = 0  # colour stays in the transparent half: only a correct compositor yields white there
Image.fromarray(np.dstack([rgb8, alpha]), "RGBA").save(os.path.join(fmt, "alpha.png"))
base.save(os.path.join(fmt, "progressive.jpg"), quality=95, progressive=True)
base.save(os.path.join(fmt, "image.bmp"))
base.save(os.path.join(fmt, "image.tif"), compression="tiff_lzw")
base.save(os.path.join(fmt, "image.webp"), lossless=True, quality=100, method=6, exact=True)
base.save(os.path.join(fmt, "UPPER.JPEG"), quality=95)

# ---- hostile ----
hos = os.path.join(out, "hostile")
open(os.path.join(hos, "empty.jpg"), "wb").close()
jpg = open(os.path.join(fmt, "UPPER.JPEG"), "rb").read()
open(os.path.join(hos, "truncated.jpg"), "wb").write(jpg[: len(jpg) * 4 // 10])
base.save(os.path.join(tmp, "rgb8.png"))
png = open(os.path.join(tmp, "rgb8.png"), "rb").read()
open(os.path.join(hos, "truncated.png"), "wb").write(png[: len(png) * 4 // 10])
with open(os.path.join(hos, "notimage.jpg"), "w") as t:
    t.write("This is a plain text file, not an image.\n"
            "It is named .jpg so that decoders are tested on content, not on the file extension.\n")
open(os.path.join(hos, "random.png"), "wb").write(pseudo_random("random.png", 4096))
# Decompression bomb: a well-formed PNG (valid CRCs, real zlib stream) whose IHDR claims 200000x200000
# 8-bit RGB (120 GB decoded). Only the first row's worth of data is present.
bomb_w = bomb_h = 200_000
with open(os.path.join(hos, "bomb.png"), "wb") as b:
    b.write(b"\x89PNG\r\n\x1a\n" +
            png_chunk(b"IHDR", struct.pack(">IIBBBBB", bomb_w, bomb_h, 8, 2, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(b"\x00" * (1 + 3 * bomb_w), 9)) +
            png_chunk(b"IEND", b""))
# A real Windows icon (PNG-compressed entries), a format neither the standard library nor x/image reads.
base.crop(((W - H) // 2, 0, (W - H) // 2 + H, H)).save(
    os.path.join(hos, "unsupported.jpg"), format="ICO", sizes=[(16, 16), (32, 32)])
# "GIF89a", then garbage. The packed byte of the screen descriptor is forced to announce a 256-entry
# global colour table (768 bytes) that the file is too short to hold, so even DecodeConfig must fail.
junk = bytearray(pseudo_random("bad-header.gif", 120))
junk[4] |= 0x87
open(os.path.join(hos, "bad-header.gif"), "wb").write(b"GIF89a" + bytes(junk))

# ---- fmnist: first 10 test images of each class ----
classes = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
with gzip.open(os.path.join(fmnist, "t10k-images-idx3-ubyte.gz"), "rb") as fi:
    magic, n, rows, cols = struct.unpack(">IIII", fi.read(16))
    assert magic == 2051 and (rows, cols) == (28, 28), (magic, rows, cols)
    images = np.frombuffer(fi.read(), dtype=np.uint8).reshape(n, rows, cols)
with gzip.open(os.path.join(fmnist, "t10k-labels-idx1-ubyte.gz"), "rb") as fl:
    magic, m = struct.unpack(">II", fl.read(8))
    assert magic == 2049 and m == n, (magic, m, n)
    labels = np.frombuffer(fl.read(), dtype=np.uint8)
fm = os.path.join(out, "fmnist")
lines = ["path,label"]
for label, name in enumerate(classes):
    os.makedirs(os.path.join(fm, name), exist_ok=True)
    for idx in np.flatnonzero(labels == label)[:10]:
        rel = f"{name}/{idx:05d}.png"
        Image.fromarray(images[idx], "L").save(os.path.join(fm, rel))
        lines.append(f"{rel},{name}")
open(os.path.join(fm, "labels.csv"), "w").write("\n".join(lines) + "\n")
PYEOF

# --- orient: the classic EXIF orientation set -----------------------------------------------------------
# orient-N stores the pixels transformed by the INVERSE of what tag N tells a viewer to do, so every file
# displays like orient-1. jpegtran works on DCT coefficients, so no extra JPEG generation loss is added.
declare -A inverse=(
	[1]=""                  # tag 1: as stored
	[2]="-flip horizontal"  # tag 2: viewer mirrors left-right
	[3]="-rotate 180"       # tag 3: viewer rotates 180
	[4]="-flip vertical"    # tag 4: viewer mirrors top-bottom
	[5]="-transpose"        # tag 5: viewer transposes (mirror across the main diagonal)
	[6]="-rotate 270"       # tag 6: viewer rotates 90 clockwise, so store it rotated 90 counter-clockwise
	[7]="-transverse"       # tag 7: viewer transverses (mirror across the anti-diagonal)
	[8]="-rotate 90"        # tag 8: viewer rotates 90 counter-clockwise, so store it rotated 90 clockwise
)
for n in 1 2 3 4 5 6 7 8; do
	f="$out/orient/orient-$n.jpg"
	# shellcheck disable=SC2086  # the option string is meant to split
	jpegtran -copy none -perfect ${inverse[$n]} -outfile "$f" "$tmp/orient-base.jpg"
	# Odd tags in little-endian (Intel) EXIF, even in big-endian (Motorola), so a parser that ignores the
	# byte order fails on half the set.
	if ((n % 2)); then order=II; else order=MM; fi
	exiftool -q -overwrite_original -n -ExifByteOrder="$order" -Orientation="$n" "$f"
done
"$PY" - "$out/orient" <<'PYEOF'
import sys
from PIL import Image
d = sys.argv[1]
Image.open(f"{d}/orient-1.jpg").convert("RGB").save(f"{d}/expected.png")
PYEOF

# --- formats: CMYK JPEG as ImageMagick (like Photoshop) writes it: inverted CMYK with an Adobe APP14 marker
"$CONVERT" "$tmp/formats-base.png" -colorspace CMYK -quality 95 -strip "$out/formats/cmyk.jpg"

chmod 644 "$out"/*/*.* "$out"/fmnist/*/*.png
echo "make-images.sh: wrote $(find "$out" -type f ! -name README.md | wc -l) files, $(du -sh "$out" | cut -f1) in $out"
