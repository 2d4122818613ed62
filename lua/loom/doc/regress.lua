-- doc/regress.lua: docstrings of loom.regress and its fit object. Not code.
return {
  {
    name = "loom.regress",
    signature = "regress(X, y [, {intercept = true, names = {...}, yname = \"y\", method = \"qr\"}]) -> fit",
    doc = [[
Ordinary least squares with the statistics of R's summary(lm()). X (n x p) holds the
predictors (the constant column is added when intercept), y is n x 1. Aliased (linearly
dependent) columns get NA (NaN) like R, the later of dependent columns being dropped.
Without an intercept R² is uncentred (1 - RSS / sum y²), as R and NIST define it.
tostring(fit) prints the summary table.]],
  },
  {name = "fit.coef", signature = "fit.coef, fit.stderr, fit.tvalues, fit.pvalues -> lists",
   doc = "Per coefficient (\"(Intercept)\" first when intercept; names in fit.names): estimate, standard error\n" ..
     "sigma * sqrt((X'X)^-1_jj), t value and two-sided p value from Student's t with fit.df degrees of freedom."},
  {name = "fit.r2", signature = "fit.r2, fit.adj_r2, fit.sigma, fit.df",
   doc = "R², adjusted R², residual standard error sqrt(RSS / df) and residual degrees of freedom n - rank."},
  {name = "fit.fstat", signature = "fit.fstat, fit.fstat_df, fit.fstat_pvalue",
   doc = "F statistic of the model against the intercept-only (or empty) model, its degrees of freedom {df1, df2}\n" ..
     "and p value."},
  {name = "fit.residuals", signature = "fit.residuals, fit.fitted -> n x 1 matrices",
   doc = "y - X beta and X beta."},
  {name = "fit:predict", signature = "fit:predict(X) -> yhat",
   doc = "Predictions for new rows X (the same predictor columns as the fit)."},
  {name = "fit:summary", signature = "fit:summary() -> string (also tostring(fit))",
   doc = "The table in the layout of R's summary(lm()): call, residual quantiles, coefficients with standard\n" ..
     "errors, t and p values and significance stars, residual standard error, R², F statistic; warnings last."},
}
