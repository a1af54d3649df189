"""Export torchvision's resnet18 and mobilenet_v2, with RANDOM weights, to ONNX.

    /usr/bin/python3 bench/featurize/export_models.py OUTDIR

Nothing is downloaded: the weights come from torchvision's own initialisation
under a fixed seed. Speed does not depend on the weights' values, only on the
architecture, so random weights measure exactly what pretrained ones would.

For each model NAME it writes
  OUTDIR/NAME.onnx       opset 13, input "input" [N,3,224,224] with a dynamic
                         batch axis, one output "features": the penultimate
                         layer (resnet18: 512 after avgpool+flatten;
                         mobilenet_v2: 1280 after the global pooling)
  OUTDIR/NAME.onnx.json  winnow's sidecar (ImageNet normalisation, RGB, NCHW)
  OUTDIR/NAME.pt         the same weights, for the PyTorch pipeline
and checks with onnx's checker and shape inference that the graph's output is
"features" with the promised width (winnow checks the input against the
sidecar itself when it opens the model).
"""
import json
import os
import sys

import onnx
import torch
import torchvision

SIDECAR_INPUT = {
    "name": "input", "layout": "NCHW", "size": [224, 224], "channels": "RGB", "scale": 255,
    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
}
DIMS = {"resnet18": 512, "mobilenet_v2": 1280}


def build(name):
    """The torchvision model with its classifier removed, so forward() returns the features."""
    torch.manual_seed(0)
    if name == "resnet18":
        m = torchvision.models.resnet18(weights=None)
        m.fc = torch.nn.Identity()  # avgpool -> flatten -> [N, 512]
    elif name == "mobilenet_v2":
        m = torchvision.models.mobilenet_v2(weights=None)
        m.classifier = torch.nn.Identity()  # adaptive_avg_pool -> flatten -> [N, 1280]
    else:
        raise ValueError(name)
    return m.eval()


def export(name, outdir):
    m = build(name)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        y = m(x)
    assert tuple(y.shape) == (2, DIMS[name]), y.shape
    path = os.path.join(outdir, name + ".onnx")
    torch.onnx.export(m, x, path, opset_version=13, input_names=["input"], output_names=["features"],
                      dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}}, do_constant_folding=True)
    g = onnx.shape_inference.infer_shapes(onnx.load(path))
    onnx.checker.check_model(g)
    out = g.graph.output[0]
    dims = [d.dim_value or d.dim_param for d in out.type.tensor_type.shape.dim]
    assert out.name == "features" and dims[1:] == [DIMS[name]], (out.name, dims)
    with open(path + ".json", "w") as f:
        json.dump({"name": name, "input": SIDECAR_INPUT, "output": "features"}, f, indent=1)
    torch.save(m.state_dict(), os.path.join(outdir, name + ".pt"))
    print(f"exported {path}: output {out.name} {dims}, {os.path.getsize(path) / 1e6:.1f} MB")


if __name__ == "__main__":
    outdir = sys.argv[1] if len(sys.argv) > 1 else "bench/out/models"
    os.makedirs(outdir, exist_ok=True)
    for name in sys.argv[2:] or list(DIMS):
        export(name, outdir)
