-- doc/experiment.lua: the docstrings of the experiment contract (loom.experiment, `loom run`
-- and the run object), read by help(x) and scripts/gen-api-docs.lua. Not code.
return {
  { name = "loom.experiment",
    signature = "loom.experiment{name = ..., params = {...}, run = fn [, description = ..., adjust = fn]} -> experiment",
    doc = [[
Declare an experiment. A script in scripts/experiments/ ends with `return loom.experiment{...}`:
  name         a non-empty string naming the experiment
  params       the parameters: a default (number, string or boolean) or {default, "what it
               means"}, e.g. hidden = {64, "hidden units"}; {1, "scale", type = "number"}
               makes a whole default real-valued (else 1 is an integer param). seed = 42
               is added when absent.
  run          function(p, run): p holds the params after key=value overrides; run is the
               run object (run:log, run:progress, run:artifact); returns a table of results
  description  one line shown by `loom run --help script.lua`
  adjust       (optional) function(p, given): after the overrides, may set params the caller
               did not give (given[name] is true for those it did), e.g. defaults that
               depend on another param; the run records the params as adjusted. Changing a
               given param, adding or removing a name or changing a param's type is an error.
Example:
  return loom.experiment{ name = "ols", params = {n = 100, seed = 42},
    run = function(p, run)
      local X = loom.randn(p.n, 3)
      return {mean = X:mean()}
    end }]] },
  { name = "loom.experiment.command",
    signature = 'require("loom.experiment").command(word, {usage = ..., run = fn [, options = {...}, flags = {...}, required = {...}, prefix = ...]})',
    doc = [[
Lets an experiment script also be a command-line tool: when the script that calls it is the
one `loom SCRIPT word INPUT [--name VALUE]... [--flag]...` runs, it parses those arguments,
calls run(input, options) and exits; loaded any other way (`loom run`, a sweep, a test) it
does nothing. options lists the options that take a value, flags those that do not (names
without "--"), required the options that must be given. Exit status 0 when run returns, 2
with the usage line on standard error for bad arguments (an unknown option, a second input,
a missing value or input), 1 with prefix .. the error when run raises.
Example (the end of speech.lua, before `return experiment`):
  require("loom.experiment").command("predict", {
    usage = "usage: loom scripts/experiments/speech.lua predict FILE|DIR --checkpoint PATH",
    options = {"checkpoint"}, required = {"checkpoint"},
    run = function(input, opts) recognise(load_model(opts.checkpoint), input) end })]] },
  { name = "loom.experiment.parse_command",
    signature = 'require("loom.experiment").parse_command(args, spec) -> input, options | nil, usage',
    doc = [[
The argument parsing of loom.experiment.command alone: args[1] is the command word, the rest
`INPUT [--name VALUE]... [--flag]...` with spec.options (names taking a value), spec.flags
and spec.required as there. Returns the input and a table of the options given (flags as
true), or nil and spec.usage with a newline for an unknown option, a second input, a
missing value, input or required option.]] },
  { name = "loom run",
    signature = "loom run [--help] [--print-id | --json] script.lua [key=value ...]",
    doc = [[
The shell command that runs an experiment script: each key=value overrides a param (converted
to its type: integer params take only integers, booleans true/false/1/0/yes/no; an unknown
key, with the nearest name suggested, or a bad value prints the params and exits with
status 2), seeds the generator with p.seed, calls run(p, run) and prints the result table.
`--help` lists the params with their types, defaults and descriptions. `--print-id` prints
only the run's id on stdout, `--json` {"id", "name", "status", "results" | "error"}.]] },
  { name = "run:log", signature = "run:log{step = i, name = value, ...}",
    doc = "Record numeric metrics at a step (step defaults to the next one): losses, accuracies." },
  { name = "run:progress", signature = "run:progress(i, n)",
    doc = "Report that step i of n is done: a progress line with the latest metrics." },
  { name = "run:artifact", signature = "run:artifact(name) -> path",
    doc = "A path under runs/<id>/ (the folder exists) where the run saves a plot or checkpoint." },
}
