#!/usr/bin/env node
// Builds a small TF.js layers model that uses every layer type and option
// internal/tfjs converts -- notably those nsfwjs' models never exercise:
// SAME padding that TensorFlow splits unevenly (stride 2 on even and odd
// sizes, even kernels), SAME max and average pools, dilation, depth
// multiplier 2, biases, BN with gamma and epsilon != 1e-3, Flatten of a
// feature map larger than 1x1 (NHWC order), Concatenate of vectors -- with
// deterministic pseudo-random weights, and records its outputs computed by
// tfjs' pure-JS CPU backend.
//
// Usage: node zoo.js OUTDIR   (writes OUTDIR/model.json, weights.bin, reference.json)
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');

const L = tfl.layers;
const H = 12, W = 11;

// input(i) is the test input's i-th value; internal/tfjs/zoo_test.go computes the same.
const input = (i) => ((i * 7919) % 1000) / 1000;

function build() {
  const x = tfl.input({shape: [H, W, 3], name: 'image'});
  const c1 = L.conv2d({name: 'c1', filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6'}).apply(x); // 6x6
  const d1 = L.depthwiseConv2d({name: 'd1', kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2}).apply(x); // 6x6x6
  const c2 = L.conv2d({name: 'c2', filters: 6, kernelSize: [4, 2], padding: 'same', useBias: false}).apply(c1); // even kernel
  const cat = L.concatenate({name: 'cat', axis: -1}).apply([c2, d1]); // 6x6x12
  const bn = L.batchNormalization({name: 'bn', epsilon: 0.01}).apply(cat);
  const r = L.reLU({name: 'r', maxValue: 1.5}).apply(bn);
  const dil = L.conv2d({name: 'dil', filters: 12, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh'}).apply(r);
  const add = L.add({name: 'add'}).apply([r, dil]);
  const pad = L.zeroPadding2d({name: 'pad', padding: [[1, 0], [0, 2]]}).apply(add); // 7x8
  const mp = L.maxPooling2d({name: 'mp', poolSize: 3, strides: 2, padding: 'same'}).apply(pad); // 4x4
  const ap = L.averagePooling2d({name: 'ap', poolSize: 3, strides: 1, padding: 'same'}).apply(mp);
  const act = L.activation({name: 'act', activation: 'sigmoid'}).apply(ap);
  const avp = L.averagePooling2d({name: 'avp', poolSize: 3, strides: 2, padding: 'same'}).apply(act); // 2x2, pads (0,1): uneven, padding not counted
  const flat = L.flatten({name: 'flat'}).apply(avp); // 2*2*12 in NHWC order
  const gap = L.globalAveragePooling2d({name: 'gap'}).apply(mp);
  const vec = L.concatenate({name: 'vec'}).apply([flat, gap]);
  const bnv = L.batchNormalization({name: 'bnv', center: false, scale: true}).apply(vec);
  const drop = L.dropout({name: 'drop', rate: 0.5}).apply(bnv);
  const fc = L.dense({name: 'fc', units: 7, activation: 'relu'}).apply(drop);
  const out = L.dense({name: 'out', units: 3, activation: 'softmax'}).apply(fc);
  return tfl.model({inputs: x, outputs: out, name: 'zoo'});
}

// Deterministic weights: a linear congruential generator, variances kept > 0.
function setWeights(model) {
  let s = 12345;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  for (const layer of model.layers) {
    const ws = layer.getWeights().map((w) => {
      const n = w.size;
      const v = new Float32Array(n);
      const isVar = /moving_variance/.test(w.name) || /variance/.test(w.name);
      for (let i = 0; i < n; i++) v[i] = isVar ? 0.05 + rnd() : (rnd() - 0.5) * (/gamma/.test(w.name) ? 3 : 1);
      return tf.tensor(v, w.shape);
    });
    if (ws.length) layer.setWeights(ws);
  }
}

async function main() {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node zoo.js OUTDIR');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  const model = build();
  setWeights(model);
  fs.mkdirSync(out, {recursive: true});
  await model.save(tf.io.withSaveHandler(async (a) => {
    const mj = {
      format: 'layers-model',
      generatedBy: 'tools/tfjs-reference/zoo.js',
      modelTopology: a.modelTopology,
      weightsManifest: [{paths: ['weights.bin'], weights: a.weightSpecs}],
    };
    fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(mj) + '\n');
    fs.writeFileSync(path.join(out, 'weights.bin'), Buffer.from(a.weightData));
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
  const taps = ['c1', 'bn', 'add', 'mp', 'ap', 'avp', 'flat', 'vec', 'fc'];
  const probe = tfl.model({inputs: model.inputs, outputs: [...taps.map((t) => model.getLayer(t).output), model.outputs[0]]});
  const n = 2;
  const x = tf.tensor4d(Float32Array.from({length: n * H * W * 3}, (_, i) => input(i)), [n, H, W, 3]);
  const ys = probe.predict(x);
  const ref = {about: 'tools/tfjs-reference/zoo.js: tfjs ' + tf.version_core + ' CPU backend; taps are means over height and width', batch: n, height: H, width: W, taps: {}};
  for (let i = 0; i < taps.length; i++) {
    const y = ys[i].rank === 4 ? tf.mean(ys[i], [1, 2]) : ys[i];
    ref.taps[taps[i]] = Array.from(await y.data());
  }
  ref.output = Array.from(await ys[taps.length].data());
  fs.writeFileSync(path.join(out, 'reference.json'), JSON.stringify(ref) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
