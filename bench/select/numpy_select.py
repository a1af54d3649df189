"""What `winnow select --strategy entropy -n N` computes, in numpy.

    numpy_select.py MODEL.json POOL.npy N

Reads the features from a .npy file (not Parquet: a flat float32 array that
np.load copies into memory), applies the winnow model (normalisation folded
into the weights, float64 as winnow does), softmax, entropy in bits, and the
top N. Prints one JSON line: seconds to load, seconds to score and rank, and
the picked row indexes, best first (row i is img/%07d.jpg in the Parquet file).
"""
import json
import sys
import time

import numpy as np


def main():
    model_path, npy_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    X = np.load(npy_path)
    t1 = time.perf_counter()
    with open(model_path) as f:
        m = json.load(f)["model"]
    W = np.asarray(m["w"], dtype=np.float64) * np.asarray(m["normalization"]["scale"])
    b = np.asarray(m["b"], dtype=np.float64) - W @ np.asarray(m["normalization"]["offset"])
    Wt = np.ascontiguousarray(W.T)
    rows = X.shape[0]
    ent = np.empty(rows)
    chunk = 1 << 15
    for s in range(0, rows, chunk):
        Z = X[s : s + chunk].astype(np.float64) @ Wt
        Z += b
        Z -= Z.max(axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=1, keepdims=True)
        # 0 log 0 = 0, as metrics.Entropy
        L = np.log2(np.where(Z > 0, Z, 1.0))
        ent[s : s + chunk] = -(Z * L).sum(axis=1)
    top = np.argpartition(-ent, n)[:n]
    top = top[np.argsort(-ent[top], kind="stable")]
    t2 = time.perf_counter()
    print(json.dumps({"load_s": t1 - t0, "score_s": t2 - t1, "rows": rows,
                      "top": [int(i) for i in top], "entropy": [float(ent[i]) for i in top]}))


if __name__ == "__main__":
    main()
