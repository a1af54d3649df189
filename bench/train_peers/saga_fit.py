"""Fit winnow's objective with scikit-learn's saga on the normalised CSV
written by winnowfit; write "b,w..." coefficient rows per class.

usage: python3 saga_fit.py norm.csv out.csv l1 l2 tol max_iter repeat

scikit-learn's elastic-net logistic regression minimises
    C * sum_i -log p(y_i|x_i) + (1 - rho)/2 ||W||^2 + rho ||W||_1
(no 1/n on the loss). Dividing winnow's objective by C gives
    1/C = l1 + l2,  rho = l1 / (l1 + l2).
"""
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

path, out = sys.argv[1], sys.argv[2]
l1, l2 = float(sys.argv[3]), float(sys.argv[4])
tol, max_iter, repeat = float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
d = np.loadtxt(path, delimiter=",", skiprows=1)
x, y = np.ascontiguousarray(d[:, :-1]), d[:, -1].astype(int)
C = 1.0 / (l1 + l2)
rho = l1 / (l1 + l2)
best = bestcpu = float("inf")
converged = True
for _ in range(repeat):
    m = LogisticRegression(penalty="elasticnet", solver="saga", C=C, l1_ratio=rho,
                           multi_class="multinomial", fit_intercept=True,
                           tol=tol, max_iter=max_iter, random_state=0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always", ConvergenceWarning)
        t0, c0 = time.perf_counter(), time.process_time()
        m.fit(x, y)
        best = min(best, time.perf_counter() - t0)
        bestcpu = min(bestcpu, time.process_time() - c0)
        converged = not any(issubclass(i.category, ConvergenceWarning) for i in w)
coef = np.column_stack([m.intercept_, m.coef_])
np.savetxt(out, coef, delimiter=",", fmt="%.17g")
with open(out[:-4] + ".seconds", "w") as f:
    f.write("%.6f\n" % best)
with open(out[:-4] + ".cpu", "w") as f:
    f.write("%.6f\n" % bestcpu)
print("saga: C=%g l1_ratio=%g tol=%g n_iter=%d converged=%s seconds=%.4f cpu=%.4f"
      % (C, rho, tol, m.n_iter_[0], converged, best, bestcpu))
