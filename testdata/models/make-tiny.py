#!/usr/bin/python3
"""Writes small, real ONNX backbones for winnow's tests and `make demo`.

They are tiny convolutional nets with fixed pseudo-random (He-initialised)
weights: not trained, but real graphs that ONNX Runtime runs exactly as it runs
a ResNet, and small enough to check in. Regenerate with Debian's python3-onnx:

    /usr/bin/python3 testdata/models/make-tiny.py testdata/models
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def tiny(nhwc: bool, two_outputs: bool, size: int = 64):
    rng = np.random.default_rng(20261128)
    w1 = he(rng, (16, 3, 3, 3), 27)
    b1 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    w2 = he(rng, (32, 16, 3, 3), 144)
    b2 = (rng.standard_normal(32) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")]
    nodes = []
    x = "image"
    if nhwc:
        shape = ["batch", size, size, 3]
        nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2]))
        x = "nchw"
    else:
        shape = ["batch", 3, size, size]
    nodes += [
        helper.make_node("Conv", [x, "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["features"], axis=1),
    ]
    outputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 32])]
    if two_outputs:
        w3 = he(rng, (32, 4), 32)
        inits.append(numpy_helper.from_array(w3, "w3"))
        nodes.append(helper.make_node("MatMul", ["features", "w3"], ["logits"]))
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4]))
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="winnow-make-tiny")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def conv2d(x, w, b, stride=2, pad=1):
    """Plain numpy NCHW convolution: an independent reference for the graph."""
    n, c, h, wd = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, w.shape[0], oh, ow), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


def reference(model):
    """Features of a fixed 2-image input, computed without ONNX Runtime."""
    p = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    n = 2 * 3 * 64 * 64
    x = ((np.arange(n) * 7919 % 1000) / 1000.0 - 0.5).reshape(2, 3, 64, 64)
    h = np.maximum(conv2d(x, p["w1"], p["b1"]), 0)
    h = np.maximum(conv2d(h, p["w2"], p["b2"]), 0)
    return {"input": "x[i] = ((i*7919) % 1000)/1000 - 0.5, NCHW [2,3,64,64]",
            "features": h.mean(axis=(2, 3)).tolist()}


def main(out):
    os.makedirs(out, exist_ok=True)
    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    for name, nhwc, two in [("tiny", False, True), ("tiny-nhwc", True, False)]:
        path = os.path.join(out, name + ".onnx")
        onnx.save(tiny(nhwc, two), path)
        side = {"name": name, "input": {"name": "image", "layout": "NHWC" if nhwc else "NCHW", "size": [64, 64],
                                        "channels": "RGB", "scale": 255, "mean": mean, "std": std}}
        if two:
            side["output"] = "features"
        with open(path + ".json", "w") as f:
            json.dump(side, f, indent=1)
            f.write("\n")
        print(path)
        if name == "tiny":
            with open(os.path.join(out, "tiny-ref.json"), "w") as f:
                json.dump(reference(tiny(False, True)), f)
                f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
