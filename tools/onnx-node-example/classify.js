// Classifies PNG images with the graph `winnow export` writes, using only
// onnxruntime-node and a pure-JS PNG decoder:
//
//   node classify.js classifier.onnx image.png...
//
// prints one JSON line per image: {"path","predicted","probs":{class:p}}.
// The preprocessing is read from classifier.onnx.json. Images already at the
// model's input size go in pixel for pixel, as winnow feeds them; others are
// resized with a bilinear (triangle) filter like winnow's, which can differ
// from winnow's fixed-point one by a grey level here and there.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');
const { PNG } = require('pngjs');

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

async function main() {
  const [model, ...images] = process.argv.slice(2);
  if (!model || images.length === 0) throw new Error('usage: node classify.js classifier.onnx image.png...');
  const side = JSON.parse(fs.readFileSync(model + '.json', 'utf8'));
  const s = side.input, [h, w] = s.size;
  const mean8 = s.mean.map((m) => Math.round(Math.min(255, Math.max(0, m * s.scale))));
  const fill = s.channels.toUpperCase() === 'L' ? [mean8[0], mean8[0], mean8[0]] : s.channels.toUpperCase() === 'BGR' ? [mean8[2], mean8[1], mean8[0]] : mean8;
  const session = await ort.InferenceSession.create(model);
  for (const path of images) {
    const png = PNG.sync.read(fs.readFileSync(path));
    const rgb = new Uint8Array(png.width * png.height * 3);
    for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < 3; c++) {
      const a = png.data[4 * i + 3]; // composite on white, as winnow does
      rgb[3 * i + c] = Math.floor((png.data[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
    }
    const sized = png.width === w && png.height === h ? rgb : fit(rgb, png.width, png.height, w, h, side.resize, fill);
    const out = await session.run({ [s.name]: tensor(sized, w, h, s) }, [side.probs]);
    const p = out[side.probs].data, probs = {};
    side.classes.forEach((c, k) => { probs[c] = p[k]; });
    const best = side.classes.reduce((a, c, k) => (p[k] > p[side.classes.indexOf(a)] ? c : a), side.classes[0]);
    console.log(JSON.stringify({ path, predicted: best, probs }));
  }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
