-- loom.datacli: the `loom data` subcommand: list, fetch, path and verify the datasets of
-- datasets/registry.lua. Not where data is found (loom.datasets).
local cli = require "loom.cli"
local datasets = require "loom.datasets"

local USAGE = [[
usage: loom data list                 the known datasets, bundled or fetched, and their state
       loom data fetch NAME... | --all download (or copy from $LOOM_DATA_MIRROR), verify, cache
                                      (a generated set, e.g. bible: run its generator; not in --all)
       loom data path NAME            print where the dataset is (exit 1 when it is not here)
       loom data verify [NAME...]     check every file's SHA-256 (default: every present set)
environment:
  LOOM_DATA         the cache of fetched sets (default ~/.local/share/loom/datasets)
  LOOM_DATA_MIRROR  a folder with the upstream layout (<mirror>/<name>/...) used instead of
                    the network (unset: shared/datasets beside the checkout, if any; empty: none)]]

local function list()
  local rows = datasets.list()
  print(string.format("%-18s %-9s %-8s %7s  %s", "name", "kind", "status", "size", "licence"))
  for _, r in ipairs(rows) do
    print(string.format("%-18s %-9s %-8s %7s  %s", r.name, r.kind, r.status, r.size_text, r.licence))
  end
  print("cache: " .. datasets.cache_dir() .. (datasets.mirror() and ("; mirror: " .. datasets.mirror()) or ""))
  return 0
end

local function fetch_names(args)
  if args[1] == "--all" then
    local names = {}
    for _, r in ipairs(datasets.list()) do
      if r.kind == "fetched" then names[#names + 1] = r.name end
    end
    return names
  end
  return args
end

-- Progress: one line per set on a pipe, an updating line on a terminal.
local function reporter(name)
  local tty = require("loom.core").process.isatty(io.stdout)
  local last = 0
  return function(done, total)
    if tty then
      io.stdout:write(string.format("\r%s: %d/%d files", name, done, total))
      io.stdout:flush()
    elseif done == total or done - last >= 500 then
      print(string.format("%s: %d/%d files", name, done, total))
      last = done
    end
  end
end

local function fetch(args)
  local names = fetch_names(args)
  if #names == 0 then
    io.stderr:write("loom data fetch: name a dataset (loom data list) or --all\n")
    return 2
  end
  for _, name in ipairs(names) do
    local ok, dir, err = pcall(datasets.fetch, name, {report = reporter(name)})
    if ok and dir then
      local made = datasets.registry()[name] and datasets.registry()[name].generator
      print(string.format("%s: %s, in %s", name, made and "generated" or "verified", dir))
    else
      if require("loom.core").process.isatty(io.stdout) then io.stdout:write("\n") end
      io.stderr:write("loom ", ok and err or tostring(dir):gsub("^data%.fetch: ", "data fetch: "), "\n")
      return 1
    end
  end
  return 0
end

local function path(args)
  if not args[1] then
    io.stderr:write("loom data path: name a dataset (loom data list)\n")
    return 2
  end
  local ok, dir, err = pcall(datasets.path, args[1])
  if ok and dir then
    print(dir)
    return 0
  end
  io.stderr:write("loom data path: ", ok and err or tostring(dir):gsub("^data%.path: ", ""), "\n")
  return 1
end

local function verify(args)
  local names = args
  if #names == 0 then
    for _, r in ipairs(datasets.list()) do
      if r.status == "bundled" or r.status == "present" then names[#names + 1] = r.name end
    end
  end
  local status = 0
  for _, name in ipairs(names) do
    local ok, good, problems = pcall(datasets.verify, name)
    if not ok then
      io.stderr:write("loom data verify: ", tostring(good):gsub("^data%.verify: ", ""), "\n")
      return 2
    end
    if good then
      print(name .. ": ok")
    else
      status = 1
      print(string.format("%s: %d problem%s", name, #problems, #problems == 1 and "" or "s"))
      for i = 1, math.min(#problems, 10) do print("  " .. problems[i]) end
      if #problems > 10 then print(string.format("  ... and %d more", #problems - 10)) end
    end
  end
  return status
end

local commands = {list = list, fetch = fetch, path = path, verify = verify}

cli.register("data", "list, fetch, locate and verify datasets: loom data list", function(args)
  local sub = args[1]
  if not sub or sub == "--help" or sub == "-h" or sub == "help" then
    print(USAGE)
    return sub and 0 or 2
  end
  local run = commands[sub]
  if not run then
    io.stderr:write("loom data: unknown command '", sub, "'\n", USAGE, "\n")
    return 2
  end
  return run(table.move(args, 2, #args, 1, {}))
end)

return {usage = USAGE}
