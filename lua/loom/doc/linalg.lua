-- doc/linalg.lua: docstrings of loom.linalg (help() in the REPL and the README's API
-- reference are generated from this list). Not code.
return {
  {
    name = "loom.linalg.lstsq",
    signature = "lstsq(X, y [, opts]) -> beta, info",
    doc = [[
Least squares: beta (p x k) minimises ||X beta - y||^2 + ridge * ||beta||^2 for X (n x p) and
y (n x k, several right-hand sides at once). opts:
  method   "qr" (default) | "svd" | "normal" | "gd" | "sgd" | "cg"
  ridge    lambda >= 0 (default 0). Direct methods factor [X; sqrt(lambda) I], not X'X + lambda I.
  rcond    rank threshold relative to the largest singular value (|R11| for qr) of X with
           columns scaled to unit norm; default max(n, p) * 2^-52. NIST's hardest problems
           (Filip, Wampler: cond(X) ~ 1e15 unscaled, ~1e10 scaled) keep full rank.
  cov      qr only: also info.xtx_inv = (X'X + lambda I)^-1 when X has full rank.
  refine   qr and svd: one corrected semi-normal refinement step with R (default true;
           taken only for full rank while cond < 1e7).
  tol, max_iter   iterative methods: stop when ||gradient|| <= tol * ||gradient at 0||
           (default 1e-10) or after max_iter iterations (gd, cg: 1000) or epochs (sgd: 200).
  lr       gd: fixed step (default: exact line search); sgd: initial rate (default 1/p).
  batch    sgd mini-batch rows (default 32).
  schedule sgd: "constant" (default) | "inverse" (lr / (1 + decay * epoch)) |
           "exponential" (lr * decay^epoch); decay its parameter.
Methods:
  qr      columns scaled to unit norm, Householder QR streamed over row chunks (TSQR with
          dtpqrt: no copy of X), then a pivoted QR (dgeqp3) of the p x p R reveals the rank.
          Rank-deficient X gives the basic solution (dependent columns get 0) and a warning
          naming the columns.
  svd     the same R, then dgelsd: the minimum-norm solution (in beta itself) for any rank;
          info.singular_values (of the scaled X).
  normal  X'X by dsyrk, equilibrated, Cholesky (dpotrf/dpotrs); dpocon estimates cond(X'X)
          and a warning says how many digits are lost once more than 6 are. Singular X'X
          (dependent features) raises an error naming them:
          "column 4 = 1 * column 1 + 1 * column 2".
  gd      steepest descent on the column-scaled problem, exact line search.
  sgd     mini-batch SGD over shuffled rows (loom.seed makes it reproducible), full gradient
          checked each epoch.
  cg      CGLS: conjugate gradient on the normal equations without forming them.
Non-convergence or divergence of gd/sgd/cg is a warning in info.warnings, never a hang.
info: method, rank (direct methods), cond (condition estimate of the column-scaled X),
cond_normal (normal), residual_norm = ||y - X beta||, iterations, grad_norm (relative),
converged, diverged, steps (sgd), pivots (qr: column order, dependent ones last),
singular_values (svd), xtx_inv (cov), warnings = {...}.]],
  },
  {name = "loom.linalg.solve", signature = "solve(A, B) -> X",
   doc = "X = A^-1 B for square A (n x n) by LU with partial pivoting (dgetrf/dgetrs); B may have several columns.\n" ..
     "Errors: \"linalg.solve: expected a square matrix, got 3x4\", \"linalg.solve: matrix is singular (U(3,3) is exactly zero)\"."},
  {name = "loom.linalg.inv", signature = "inv(A) -> Ainv",
   doc = "Inverse of square A by LU (dgetrf/dgetri). Singular A raises \"linalg.inv: matrix is singular (U(k,k) is exactly zero)\".\n" ..
     "Prefer solve(A, B) or lstsq to multiplying by an inverse."},
  {name = "loom.linalg.det", signature = "det(A [, {log = true}]) -> d | sign, logabs",
   doc = "Determinant of square A from its LU factors, row swaps counted in the sign. With {log = true} returns\n" ..
     "sign (-1, 0, 1) and log|det A|, which neither overflows nor underflows (det(10 * eye(400)) is inf, its log 921.03).\n" ..
     "A singular matrix gives 0 (sign 0, logabs -inf)."},
  {name = "loom.linalg.svd", signature = "svd(A [, {vectors = false}]) -> U, S, Vt | S",
   doc = "Thin SVD A (m x n) = U diag(S) Vt by divide and conquer (dgesdd): U m x k, S k x 1 descending, Vt k x n,\n" ..
     "k = min(m, n). {vectors = false} returns S only."},
  {name = "loom.linalg.qr", signature = "qr(A) -> Q, R",
   doc = "Reduced QR A (m x n) = Q R: Q m x k with orthonormal columns, R k x n upper triangular, k = min(m, n)\n" ..
     "(dgeqrf/dorgqr). For least squares use lstsq, which never forms Q."},
  {name = "loom.linalg.cholesky", signature = "cholesky(A) -> L",
   doc = "A = L L^T for symmetric positive definite A; L lower triangular. Only A's lower triangle is read.\n" ..
     "Errors: \"linalg.cholesky: matrix is not positive definite (leading minor 2 is not positive)\"."},
  {name = "loom.linalg.eigh", signature = "eigh(A [, {vectors = false}]) -> w, V | w",
   doc = "Symmetric eigen-decomposition A = V diag(w) V^T (dsyevd): w n x 1 ascending, V's columns orthonormal\n" ..
     "eigenvectors. Only A's lower triangle is read."},
  {name = "loom.linalg.pinv", signature = "pinv(A [, {rcond = r}]) -> Apinv",
   doc = "Moore-Penrose pseudo-inverse V diag(1/s) U^T over the singular values s > rcond * s1\n" ..
     "(default rcond = max(m, n) * 2^-52)."},
  {name = "loom.linalg.cond", signature = "cond(A) -> number",
   doc = "2-norm condition number s_max / s_min from the singular values (inf when singular)."},
  {name = "loom.linalg.rank", signature = "rank(A [, {tol = t}]) -> integer",
   doc = "Number of singular values above tol (default max(m, n) * 2^-52 * s1)."},
  {name = "loom.linalg.betainc", signature = "betainc(a, b, x) -> number",
   doc = "Regularised incomplete beta function I_x(a, b) by its continued fraction (modified Lentz)."},
  {name = "loom.linalg.t_cdf", signature = "t_cdf(t, df) -> number",
   doc = "P(T <= t) for Student's t distribution with df degrees of freedom."},
  {name = "loom.linalg.f_sf", signature = "f_sf(f, d1, d2) -> number",
   doc = "P(F > f) for the F distribution with (d1, d2) degrees of freedom (the p value of an F test)."},
  {name = "loom.linalg.as_column", signature = "as_column(y) -> matrix | y",
   doc = "A Lua list of numbers {1, 2, 3} as the n x 1 matrix it stands for; anything else is returned unchanged (every solver accepts y either way)."},
  {name = "loom.linalg.wall_time", signature = "wall_time() -> seconds",
   doc = "Wall-clock seconds (for timing solvers; os.clock() counts CPU time of every thread)."},
  {name = "loom.linalg.lstsq_naive", signature = "lstsq_naive(X, y) -> beta",
   doc = "The naive reference solver (modified Gram-Schmidt, full column rank only) that tests compare lstsq with."},
  {name = "loom.nist.read", signature = "nist.read(path) -> dataset | nil, message",
   doc = "Read a NIST StRD linear least-squares .dat file: dataset.name, model, terms, columns, data, y, intercept,\n" ..
     "certified = {params, coef, stderr, residual_sd, r2, df_regression, df_residual, fstat}. require \"loom.nist\"."},
  {name = "loom.nist.design", signature = "nist.design(dataset) -> X, y, intercept",
   doc = "The model's predictors (powers of x for polynomial models), built from the model line, never the file name."},
  {name = "loom.nist.powers", signature = "nist.powers(x, {0, 1, 2, ...}) -> X",
   doc = "Columns x^q for each power q of the list (x an n x 1 matrix): a polynomial design."},
  {name = "loom.nist.lre", signature = "nist.lre(estimate, certified) -> digits",
   doc = "Log relative error -log10(|est - cert| / |cert|) (absolute when cert = 0), in [0, 15]: digits that agree."},
}
