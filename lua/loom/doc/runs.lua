-- doc/runs.lua: the docstrings of the run store, plots and sweeps (loom.runner, loom.runs.*,
-- `loom runs`, `loom plot`, `loom sweep`), read by help(x) and the API reference. Not code.
-- loom.experiment, `loom run`, run:log, run:progress and run:artifact are in doc/experiment.lua.
return {
  { name = "run", signature = "run.id, run.name, run.params, run.dir",
    doc = [[
The run object an experiment's run(p, run) receives. run.id is the run's 8-hex-digit id in
the store (`loom runs show ID`), run.params the resolved params, run.dir the folder of its
artifacts (runs/<id>/ next to the database). Methods: run:log, run:progress, run:steps,
run:artifact, run:plot. Ctrl-C (SIGINT) or SIGTERM while it runs ends the run as
`interrupted`, keeping everything logged so far.]] },

  { name = "run:steps", signature = "for i in run:steps(n) do ... end",
    doc = [[
Iterate i = 1..n and drive the progress display after each step, as run:progress(i, n)
would: on a terminal a bar with rate, ETA and the latest metrics; otherwise a plain line
every few seconds and one at the end.]] },

  { name = "run:plot",
    signature = "run:plot{file = 'loss.png', metrics = {...} | series = {...} [, title, xlabel, ylabel, y2label, logx, logy, xrange, yrange, y2range, xtics, ytics, key, vlines, size = {w, h}]} -> path",
    doc = [[
Draw a figure with gnuplot into the run's artifacts (PNG or SVG by the file's extension) and
return its path. metrics = {"loss", "acc"} draws metrics this run logged against step;
series = {{title = "train", x = {...}, y = {...}, style = "linespoints", dashed = true}, ...}
draws numbers of your own (style: lines, linespoints, points, steps, impulses; right_axis =
true reads a series against a second scale on the right, with y2label and y2range). Both may be
given. Axes: logx/logy = true for log scales, xrange/yrange = {lo, hi} (nil for automatic),
xtics = {1, 2, 4, 8} for exactly those ticks (integer lengths, say), key = "left top" for
the legend's place, vlines = {{x = 1e6, title = "cg overtakes", align = "right"}} for dashed
markers (the title left or right of the line). The
file is recorded as an artifact of the run.
Example: run:plot{file = "loss.png", metrics = {"loss", "val_loss"}, logy = true}]] },

  { name = "run:heatmap",
    signature = "run:heatmap{file = 'confusion.png', values = {{...}, ...} [, xlabels, ylabels, counts = true, title, xlabel, ylabel, cblabel, size = {w, h}]} -> path",
    doc = [[
Draw a matrix as coloured cells (white to blue) into the run's artifacts and return the path:
values is a table of rows, the first row at the top; xlabels/ylabels name the columns and rows;
each nonzero value is written in its cell unless counts = false. For confusion matrices.
Example: run:heatmap{file = "confusion.png", values = C, xlabels = {"0", "1"}, ylabels = {"0", "1"},
xlabel = "predicted", ylabel = "true"}]] },

  { name = "loom runs",
    signature = "loom runs [--db PATH] [name=X] [status=S] [sweep=ID] [key=value ...] | show ID | compare ID ID ... | export --csv|--json [--metrics] [-o FILE] | rm ID ... | merge OTHER.db ...",
    doc = [[
The run store on the command line. Without a subcommand, lists runs (oldest first) with the
params that differ between runs of the same experiment and their results; filters select by
experiment name, status (running, completed, failed, interrupted, died), sweep, or any param
(lr=0.01 matches 1e-2 too). `show` prints one run: script and its SHA-256, seed, host,
timings, params, results, a summary of each metric, artifacts. `compare` puts params and
results side by side and marks what differs. `export` writes CSV (one row per run, columns
param.* and result.*; with --metrics one row per metric value) or JSON (a list of runs, with
--metrics each metric's steps and values). `rm` removes runs with their runs/<id>/ folders.
`merge` copies runs from other databases (Slurm task databases are merged automatically).
IDs can be shortened to a unique prefix; `last` is the most recent run. The database is
--db PATH, else $LOOM_DB, else runs.db in the working directory. Listing, show, compare and
export only read: they work behind a writer holding the lock and on a read-only file or
mount, and mark runs whose process is gone as died only when they can without waiting.
A damaged database, or one that is not loom's, is refused (by `loom run` too) with one
message.]] },

  { name = "loom plot",
    signature = "loom plot ID... METRIC... [-o FILE.png|FILE.svg] [--size WxH] [--logy] [--title T]",
    doc = [[
Plot metrics against step with gnuplot: one line per run and metric, each run labelled by the
params that differ between the runs. With -o, writes a PNG (pngcairo, 800x500 by default) or
an SVG; without, draws the plot as text on the terminal. With no METRIC, every metric of the
runs. Example: loom plot 3f2a 9c1b loss -o loss.png]] },

  { name = "loom sweep",
    signature = "loom sweep script.lua key=v1,v2 ... [-j N] [--sort METRIC[:asc|:desc]] [--slurm [--partition P] [--time T] [--cpus N] [--mem M] [--account A] [--max-parallel K] [--dry-run] [--wait]] | --status [ID] [--wait] | --resume ID|NAME|last [-j N]",
    doc = [[
Run every combination of the given values (a grid). Locally, N worker processes each run
`loom run` on one point into the same database, with an overall progress line; at the end a
table of the runs sorted by --sort (losses and errors ascending, other names descending,
or say :asc / :desc). The exit status is non-zero if any point failed. With --slurm the grid
is submitted as one Slurm job array (sbatch); each task runs one point into its own database
under runs/sweeps/<id>/tasks/, which `loom runs` merges; --dry-run prints the sbatch script
instead of submitting it. `loom sweep --status` shows the latest sweep point by point (queued,
running, completed, ...) with its results; --wait follows it until it is done.
`loom sweep --resume ID` (an id prefix, the experiment's name for its latest sweep, or
last) finishes a local sweep whose coordinator was killed: points that
never started run now, and a point whose run died, was interrupted or failed continues as
that run (`loom run --resume`, from its checkpoint when it keeps one).]] },

  { name = "loom.runs", doc = [[
Runs from Lua: loom.runs.run(script, params, opts) runs and records an experiment like
`loom run`; loom.runs.open(path) opens a run database to query (see loom.runs.store.open).
On the command line: `loom runs`, `loom plot`, `loom sweep`; docs/runs.md has the tour.]] },

  { name = "loom.runs.run",
    signature = "loom.runs.run(script_or_experiment [, params [, {db = path, quiet = true}]]) -> result, run_id | nil, message [, run_id]",
    doc = [[
Run an experiment from Lua and record it, as `loom run` does. params may be
{lr = 0.1, hidden = 64} or {"lr=0.1"}: both are checked against the defaults' types like
command-line overrides. Returns the result table and the run's id, or nil and "failed: ..."
/ "interrupted: ..." (with the id) or the params error.
Example: local res, id = loom.runs.run("scripts/experiments/xor.lua", {hidden = 8})]] },

  { name = "loom.runs.open", signature = "loom.runs.open([path]) -> store | nil, message",
    doc = "The same as loom.runs.store.open: open a run database to query it from Lua." },

  { name = "loom.runner.execute", signature = "loom.runner.execute(e, p [, {store = s, quiet = true}]) -> status, result, run",
    doc = [[
Run an experiment object (from loom.experiment or loom.experiment.load(path)) with resolved
params p, as `loom run` does but from Lua (the REPL, tests). status is "completed", "failed"
(result is then the error with its traceback) or "interrupted". With a store
(loom.runs.store.open(path)) the run is recorded; without, run.metrics keeps the metrics.]] },

  { name = "loom.runs.store.open", signature = "loom.runs.store.open([path [, {readonly = true, timeout = ms}]]) -> store | nil, message",
    doc = [[
Open (creating if needed) a run database: SQLite in WAL mode with a 60 s busy timeout, so
concurrent writers wait instead of failing. path defaults to $LOOM_DB, else runs.db.
Tables: runs (id, name, script, script_hash, seed, status, started, ended, host, pid,
loom_version, sweep, sweep_point, artifacts_dir, error), params, metrics (run_id, step,
name, value), results, artifacts, sweeps, sweep_points. Methods include
store:list{name =, status =, sweep =, params = {k = v}}, store:get(id), store:metric(id, name)
-> steps, values, store:merge(other_path), store:close(). Query it with any SQLite tool too.
With readonly it never writes nor locks (a WAL file on a read-only mount is read as
immutable). A file that is not a loom run database ("not a loom run database (...)") or
fails SQLite's quick_check of its tables but metrics ("the database is damaged (...)") is
refused, untouched, in both modes.]] },

  { name = "loom.runs.plot.draw",
    signature = "loom.runs.plot.draw{output = path | nil, series = {{title =, x = {...}, y = {...}}}, title =, xlabel =, ylabel =, logy =, size = {w, h}, ...} -> true [, text] | nil, message",
    doc = [[
The gnuplot driver behind `loom plot` and run:plot: lines of (x, y) series to a PNG or SVG
file chosen by extension, or, without output, a text plot returned as the second value. Takes
every axis option run:plot documents (logx, xrange, xtics, key, vlines, right_axis, ...).]] },
  { name = "loom.runs.plot.heatmap",
    signature = "loom.runs.plot.heatmap{output = path | nil, values = {{...}, ...}, xlabels =, ylabels =, counts = true, title =, xlabel =, ylabel =, cblabel =, size = {w, h}} -> true [, text] | nil, message",
    doc = [[
The gnuplot driver behind run:heatmap: a matrix (a table of rows, the first at the top) as
coloured cells with their values written in, to a PNG or SVG file or as text.]] },


  { name = "loom report",
    signature = "loom report [IDS | --sweep NAME | --last N | key=value ...] [--where EXPR] -o report.html [--title T]",
    doc = [[
Write one self-contained HTML page about runs (no network: styles inline, charts as inline
SVG, image artifacts as data: URIs, a Content-Security-Policy that forbids anything else):
the runs with the params that differ and their results; when runs repeat a point with other
seeds, a table by param value with mean ± sd and the 95% Student t interval and error-bar
charts; one chart per metric with every run (or each group's mean and ± sd band); and each
run's params, results, provenance and artifacts (the git diff of a dirty tree included).
Without a selection, the last 20 runs. Example: loom report --sweep mlp -o mlp.html]] },

  { name = "loom runs compare --group-by",
    signature = "loom runs compare --group-by PARAM[,PARAM] [IDS | --sweep NAME | --last N | key=value ...] [--where EXPR]",
    doc = [[
Results summarised per value of PARAM over the other runs (typically seeds): for each
numeric result the mean, the sample standard deviation and the 95% interval of the mean from
Student's t with n - 1 degrees of freedom, printed as "mean ± sd [lo, hi]". Says when runs
of a group also differ in another param. Example:
  loom sweep mlp.lua hidden=8,32 seed=1,2,3,4,5
  loom runs compare --group-by hidden --sweep mlp]] },

  { name = "loom runs --where",
    signature = "loom runs|runs export|runs compare|report --where 'test_acc > 0.9 and (lr <= 0.01 or hidden != 64)'",
    doc = [[
Keep the runs for which the expression holds. Comparisons NAME OP NUMBER (OP one of < <= > >=
= == != ~=) joined by and/or with parentheses; NAME is a result, else a param of that name
(result.NAME or param.NAME says which). Compiled to SQL with every name and number bound, so
no user text reaches the query. Errors give the column: "expected a number after '>' at
column 11, got 'the end'".]] },

  { name = "loom plot --band",
    signature = "loom plot ID... METRIC... --band [-o FILE] | loom plot --sweep NAME|--last N|--where EXPR [METRIC...] [--band]",
    doc = [[
Runs that differ only in the seed are drawn as one line, the mean at each step, with a
shaded band of ± one standard deviation; each group is labelled by its params and n.
Instead of run ids, --sweep NAME, --last N or --where EXPR (with key=value filters) select
the runs; the other words are metrics. Example: loom plot --sweep mlp loss --band -o loss.png]] },

  { name = "loom.runs.stats.summary",
    signature = "loom.runs.stats.summary(values [, level = 0.95]) -> {n, mean, sd, lo, hi, half}",
    doc = [[
Mean, sample standard deviation (n - 1) and the Student t confidence interval
mean ± t(1 - (1 - level)/2, n - 1) · sd / sqrt(n) of the numbers in values (NaN and
non-numbers are left out). sd and the interval are nil for fewer than two values.
loom.runs.stats.t_quantile(p, df) and t_cdf(t, df) are the distribution behind it.]] },

  { name = "loom.runs.provenance",
    doc = [[
What `loom run` records with every run, shown by `loom runs show` and the report: git_commit,
git_dirty and git_root of the script's repository (a dirty tree's `git diff HEAD` becomes the
artifact git.diff), loom_version, blas_config, blas_core, blas_threads (from OpenBLAS),
cpu_model, cpus, host, command_line, env.NAME for variables starting with LOOM_, OMP_ or
OPENBLAS_, and wall_time and cpu_time in seconds. Stored in the provenance table
(run_id, name, value); store:provenance(id) reads it.]] },
}
