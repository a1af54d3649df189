# Fit winnow's objective with glmnet on the normalised CSV written by
# winnowfit, and write "b,w..." coefficient rows per class.
# usage: Rscript glmnet_fit.R norm.csv out.csv l1 l2 mode repeat thresh
#   mode "path": glmnet's recommended use, a geometric lambda path from
#   lambda_max down to the target (100 values), warm-started internally;
#   mode "single": only the target lambda.
suppressPackageStartupMessages(library(glmnet))
args <- commandArgs(trailingOnly = TRUE)
d <- as.matrix(read.csv(args[1]))
l1 <- as.numeric(args[3]); l2 <- as.numeric(args[4])
mode <- args[5]; rep <- as.integer(args[6]); thresh <- as.numeric(args[7])
p <- ncol(d) - 1
x <- d[, 1:p, drop = FALSE]
y <- factor(d[, p + 1])
n <- nrow(x)
# glmnet minimises (1/n) loss + lambda ((1-alpha)/2 ||W||^2 + alpha ||W||_1);
# multiplying by n gives winnow's sum-loss objective.
lam <- (l1 + l2) / n
alpha <- l1 / (l1 + l2)
if (mode == "path") {
  Y <- model.matrix(~ y - 1)
  pi <- colMeans(Y)
  g <- abs(crossprod(x, sweep(Y, 2, pi)))
  lmax <- max(g) / (n * max(alpha, 1e-3))
  lambdas <- exp(seq(log(lmax), log(lam), length.out = 100))
} else {
  lambdas <- lam
}
best <- Inf; bestcpu <- Inf
for (r in seq_len(rep)) {
  t <- system.time(fit <- glmnet(x, y, family = "multinomial", type.multinomial = "ungrouped",
                                 alpha = alpha, lambda = lambdas, standardize = FALSE,
                                 intercept = TRUE, thresh = thresh, maxit = 1e7))
  best <- min(best, t[["elapsed"]])
  bestcpu <- min(bestcpu, t[["user.self"]] + t[["sys.self"]])
}
k <- length(fit$beta)
out <- matrix(0, k, p + 1)
last <- length(fit$lambda)
for (c in seq_len(k)) {
  out[c, 1] <- fit$a0[c, last]
  out[c, 2:(p + 1)] <- as.numeric(fit$beta[[c]][, last])
}
write.table(out, args[2], sep = ",", row.names = FALSE, col.names = FALSE)
writeLines(sprintf("%.6f", best), sub("\\.csv$", ".seconds", args[2]))
writeLines(sprintf("%.6f", bestcpu), sub("\\.csv$", ".cpu", args[2]))
cat(sprintf("glmnet(%s): lambda=%g alpha=%g thresh=%g seconds=%.4f cpu=%.4f npasses=%d\n", mode, lam, alpha, thresh, best, bestcpu, fit$npasses))
