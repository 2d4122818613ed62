-- doc/repl.lua: the docstrings of help() and the interactive loom (REPL and command line),
-- read by help(x) and scripts/gen-api-docs.lua. Not code.
return {
  { name = "help", signature = "help([x])",
    doc = [[
Print documentation. help() lists the areas and their main names; help(loom.zeros),
help("loom.zeros") or help("matrix:sum") print one entry; help(A) for a matrix prints the
matrix type with its methods; help("linalg") or help("loom.linalg") list an area.
A global in the REPL and in scripts run by loom; elsewhere require("loom.help").help(x).
From a shell: loom help loom.zeros.]] },
  { name = "loom", signature = "loom [-e code] [-l name] [-i] [script.lua [args...]] | loom <command> ...",
    doc = [[
The loom executable. With no arguments, the REPL. `loom script.lua a b` runs a script with
the global arg set as lua does (arg[0] the script, arg[1] = "a", #arg == 2) and the script's
... equal to the arguments; `loom -e 'code'` runs code; `-l name` requires a module into a
global; `-i` opens the REPL after the script or -e code, with their globals; `-` runs
standard input as a script; `--version`; `--help`. Commands: `loom help [name]`,
`loom run` and those later areas add (`loom runs`, `loom sweep`, `loom plot`).]] },
  { name = "repl",
    doc = [[
The interactive loom (`loom`, or `loom -i script.lua`). Every expression's values are
printed (matrices like numpy) without typing `=`; a statement left open (a function over
several lines) continues at the ">>" prompt; an error prints its traceback and the session
goes on; Ctrl-C interrupts a running loop (and at the prompt clears the line); Tab completes
globals, fields (loom.li<Tab>) and methods after ':' (A:su<Tab>). History is kept in
~/.loom_history ($LOOM_HISTORY names another file; empty disables it). When standard input
is not a terminal, lines are read without prompts, results still printed, and the exit
status is 1 if any statement failed. Ctrl-D (end of input) leaves.]] },
}
