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
--db PATH, else $LOOM_DB, else runs.db in the working directory.]] },

  { name = "loom plot",
    signature = "loom plot ID... METRIC... [-o FILE.png|FILE.svg] [--size WxH] [--logy] [--title T]",
    doc = [[
Plot metrics against step with gnuplot: one line per run and metric, each run labelled by the
params that differ between the runs. With -o, writes a PNG (pngcairo, 800x500 by default) or
an SVG; without, draws the plot as text on the terminal. With no METRIC, every metric of the
runs. Example: loom plot 3f2a 9c1b loss -o loss.png]] },

  { name = "loom sweep",
    signature = "loom sweep script.lua key=v1,v2 ... [-j N] [--sort METRIC[:asc|:desc]] [--slurm [--partition P] [--time T] [--cpus N] [--mem M] [--account A] [--max-parallel K] [--dry-run] [--wait]] | --status [ID] [--wait]",
    doc = [[
Run every combination of the given values (a grid). Locally, N worker processes each run
`loom run` on one point into the same database, with an overall progress line; at the end a
table of the runs sorted by --sort (losses and errors ascending, other names descending,
or say :asc / :desc). The exit status is non-zero if any point failed. With --slurm the grid
is submitted as one Slurm job array (sbatch); each task runs one point into its own database
under runs/sweeps/<id>/tasks/, which `loom runs` merges; --dry-run prints the sbatch script
instead of submitting it. `loom sweep --status` shows the latest sweep point by point (queued,
running, completed, ...) with its results; --wait follows it until it is done.]] },

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

  { name = "loom.runs.store.open", signature = "loom.runs.store.open([path [, {readonly = true}]]) -> store | nil, message",
    doc = [[
Open (creating if needed) a run database: SQLite in WAL mode with a 60 s busy timeout, so
concurrent writers wait instead of failing. path defaults to $LOOM_DB, else runs.db.
Tables: runs (id, name, script, script_hash, seed, status, started, ended, host, pid,
loom_version, sweep, sweep_point, artifacts_dir, error), params, metrics (run_id, step,
name, value), results, artifacts, sweeps, sweep_points. Methods include
store:list{name =, status =, sweep =, params = {k = v}}, store:get(id), store:metric(id, name)
-> steps, values, store:merge(other_path), store:close(). Query it with any SQLite tool too.]] },

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
}
