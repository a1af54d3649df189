// Classifies PNG and JPEG images with the graph `winnow export` writes,
// using only onnxruntime-node and pure-JS decoders (pngjs, jpeg-js):
//
//   node classify.js classifier.onnx image.png photo.jpg...
//
// prints one JSON line per image: {"path","predicted","probs":{class:p},
// "max_prob"}, with "novelty" for a model that keeps a novelty reference and
// "status" as winnow classify decides it: "novel" above the sidecar's
// novelty cut, whatever the probabilities; otherwise "settled" or
// "uncertain" by the calibrated confidence cut, when the model has one.
// The preprocessing is read from classifier.onnx.json. Images already at the
// model's input size go in pixel for pixel, as winnow feeds them; others are
// resized with a bilinear (triangle) filter like winnow's, which can differ
// from winnow's fixed-point one by a grey level here and there. JPEGs are
// decoded in full and turned upright by their EXIF orientation, as winnow
// does; winnow decodes a large JPEG at a reduced DCT scale first, so its
// pixels, and the probabilities, differ a little more for those.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');
const { PNG } = require('pngjs');
const jpeg = require('jpeg-js');

// Where the picture lands in the W x H input for the sidecar's resize mode.
function geometry(sw, sh, w, h, mode) {
  const g = { rw: w, rh: h, cx: 0, cy: 0, iw: w, ih: h, ox: 0, oy: 0 };
  if (mode === 'pad') {
    if (w * sh <= h * sw) g.rh = Math.min(Math.max(Math.round(sh * w / sw), 1), h);
    else g.rw = Math.min(Math.max(Math.round(sw * h / sh), 1), w);
    [g.iw, g.ih, g.ox, g.oy] = [g.rw, g.rh, (w - g.rw) >> 1, (h - g.rh) >> 1];
  } else if (mode === 'crop') {
    if (w * sh >= h * sw) g.rh = Math.max(Math.round(sh * w / sw), h);
    else g.rw = Math.max(Math.round(sw * h / sh), w);
    [g.cx, g.cy] = [(g.rw - w) >> 1, (g.rh - h) >> 1];
  }
  return g;
}

// One axis of a triangle filter widened when shrinking: output i of n reads
// source samples around (i + 0.5) * in / n.
function weights(inLen, outLen, first, count) {
  const scale = inLen / outLen, fs = Math.max(scale, 1), taps = [];
  for (let i = first; i < first + count; i++) {
    const c = (i + 0.5) * scale, lo = Math.max(Math.trunc(c - fs + 0.5), 0), hi = Math.min(Math.trunc(c + fs + 0.5), inLen);
    let ws = [], sum = 0;
    for (let x = lo; x < hi; x++) { const v = Math.max(0, 1 - Math.abs((x - c + 0.5) / fs)); ws.push(v); sum += v; }
    taps.push({ lo, ws: ws.map((v) => v / sum) });
  }
  return taps;
}

// rgb: Uint8Array of sw x sh packed RGB; returns w x h packed RGB.
function fit(rgb, sw, sh, w, h, mode, fill) {
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) out.set(fill, 3 * i);
  const g = geometry(sw, sh, w, h, mode);
  const kx = weights(sw, g.rw, g.cx, g.iw), ky = weights(sh, g.rh, g.cy, g.ih);
  const mid = new Uint8Array(sh * g.iw * 3); // horizontal pass, then vertical
  for (let y = 0; y < sh; y++) kx.forEach((k, x) => { for (let c = 0; c < 3; c++) {
    let v = 0; k.ws.forEach((wt, j) => { v += wt * rgb[3 * (y * sw + k.lo + j) + c]; });
    mid[3 * (y * g.iw + x) + c] = Math.min(255, Math.max(0, Math.round(v)));
  } });
  ky.forEach((k, y) => { for (let x = 0; x < g.iw; x++) for (let c = 0; c < 3; c++) {
    let v = 0; k.ws.forEach((wt, j) => { v += wt * mid[3 * ((k.lo + j) * g.iw + x) + c]; });
    out[3 * ((g.oy + y) * w + g.ox + x) + c] = Math.min(255, Math.max(0, Math.round(v)));
  } });
  return out;
}

// The input tensor: (v / scale - mean) / std per channel, in the layout and
// channel order of the sidecar; "L" is BT.601 luma, as winnow computes it.
function tensor(rgb, w, h, s) {
  const n = w * h, ch = s.channels.toUpperCase(), nc = ch === 'L' ? 1 : 3;
  const data = new Float32Array(n * nc), nchw = s.layout.toUpperCase() === 'NCHW';
  for (let i = 0; i < n; i++) {
    const [r, g, b] = rgb.subarray(3 * i, 3 * i + 3);
    const px = ch === 'L' ? [0.299 * r + 0.587 * g + 0.114 * b] : ch === 'BGR' ? [b, g, r] : [r, g, b];
    px.forEach((v, c) => { data[nchw ? c * n + i : nc * i + c] = (v / s.scale - s.mean[c]) / s.std[c]; });
  }
  return new ort.Tensor('float32', data, nchw ? [1, nc, h, w] : [1, h, w, nc]);
}

// The EXIF orientation tag (1..8) of a JPEG, 1 when it has none.
function exifOrientation(buf) {
  try {
    for (let i = 2; i + 4 <= buf.length && buf[i] === 0xff;) {
      const marker = buf[i + 1], len = buf.readUInt16BE(i + 2);
      if (marker === 0xda || marker === 0xd9) break;
      if (marker === 0xe1 && buf.toString('latin1', i + 4, i + 10) === 'Exif\0\0') {
        const t = i + 10, le = buf.toString('latin1', t, t + 2) === 'II';
        const u16 = (o) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
        const ifd = t + (le ? buf.readUInt32LE(t + 4) : buf.readUInt32BE(t + 4));
        for (let e = 0, n = u16(ifd); e < n; e++) {
          const at = ifd + 2 + 12 * e;
          if (u16(at) === 0x0112) { const v = u16(at + 8); return v >= 1 && v <= 8 ? v : 1; }
        }
      }
      i += 2 + len;
    }
  } catch (e) { /* a damaged EXIF block: no orientation */ }
  return 1;
}

// Turns packed RGB upright for an EXIF orientation; returns {rgb, w, h}.
function upright(rgb, w, h, o) {
  if (o === 1) return { rgb, w, h };
  const swap = o >= 5, W = swap ? h : w, H = swap ? w : h, out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const [sx, sy] = [null, [x, y], [w - 1 - x, y], [w - 1 - x, h - 1 - y], [x, h - 1 - y],
      [y, x], [y, h - 1 - x], [w - 1 - y, h - 1 - x], [w - 1 - y, x]][o];
    out.set(rgb.subarray(3 * (sy * w + sx), 3 * (sy * w + sx) + 3), 3 * (y * W + x));
  }
  return { rgb: out, w: W, h: H };
}

// Decodes a PNG or JPEG file to packed RGB, alpha composited on white as
// winnow does; anything else is an error naming the file.
function decode(path) {
  const buf = fs.readFileSync(path);
  let rgba, w, h, o = 1;
  if (buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    const png = PNG.sync.read(buf);
    [rgba, w, h] = [png.data, png.width, png.height];
  } else if (buf.length > 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) {
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    [rgba, w, h, o] = [img.data, img.width, img.height, exifOrientation(buf)];
  } else {
    throw new Error(`${path}: not a PNG or JPEG file (this example reads only those; convert it, or classify it with winnow)`);
  }
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) {
    const a = rgba[4 * i + 3];
    rgb[3 * i + c] = Math.floor((rgba[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
  }
  return upright(rgb, w, h, o);
}

// The status winnow classify gives a prediction (see the file's comment).
function status(side, predicted, maxProb, novelty) {
  if (side.novelty && side.novelty.cut > 0 && novelty > side.novelty.cut) return 'novel';
  const cal = side.calibration;
  if (!cal) return undefined;
  const own = cal.class_thresholds && predicted in cal.class_thresholds;
  const cut = own ? cal.class_thresholds[predicted] : cal.threshold;
  return cut !== null && maxProb >= cut ? 'settled' : 'uncertain';
}

async function main() {
  const [model, ...images] = process.argv.slice(2);
  if (!model || images.length === 0) throw new Error('usage: node classify.js classifier.onnx image.png|image.jpg...');
  const side = JSON.parse(fs.readFileSync(model + '.json', 'utf8'));
  const s = side.input, [h, w] = s.size;
  const mean8 = s.mean.map((m) => Math.round(Math.min(255, Math.max(0, m * s.scale))));
  const fill = s.channels.toUpperCase() === 'L' ? [mean8[0], mean8[0], mean8[0]] : s.channels.toUpperCase() === 'BGR' ? [mean8[2], mean8[1], mean8[0]] : mean8;
  const session = await ort.InferenceSession.create(model);
  const outputs = side.novelty ? [side.probs, side.novelty.output] : [side.probs];
  for (const path of images) {
    const img = decode(path);
    const sized = img.w === w && img.h === h ? img.rgb : fit(img.rgb, img.w, img.h, w, h, side.resize, fill);
    const out = await session.run({ [s.name]: tensor(sized, w, h, s) }, outputs);
    const p = out[side.probs].data, probs = {};
    side.classes.forEach((c, k) => { probs[c] = p[k]; });
    let best = 0;
    p.forEach((v, k) => { if (v > p[best]) best = k; });
    const res = { path, predicted: side.classes[best], probs, max_prob: p[best] };
    if (side.novelty) res.novelty = out[side.novelty.output].data[0];
    const st = status(side, res.predicted, res.max_prob, res.novelty);
    if (st) res.status = st;
    console.log(JSON.stringify(res));
  }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
