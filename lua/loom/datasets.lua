-- loom.datasets: where data lives. Small sets are bundled in the project's datasets/ folder;
-- large ones are named in datasets/registry.lua and fetched (libcurl), verified (SHA-256)
-- and cached ($LOOM_DATA); LOOM_DATA_MIRROR=DIR stands in for the network. Generated sets
-- (a `generator` script in datasets/) are made into the cache by `loom data fetch` too. Behind
-- loom.data.path and `loom data`. Not data formats (loom.agreement, read_csv, audio).
local check = require "loom.check"
local native = require("loom.core").data
local process = require("loom.core").process

local datasets = {}

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- "a/b/../c/./d" -> "a/c/d": paths shown to users say where things are, plainly.
datasets.normalize = require("loom.runs.store").normalize

-- The folder holding registry.lua: the project's datasets/ (this file is in lua/loom/ of a
-- checkout), an installed share/loom/datasets, or datasets/ beside this file in a rocks tree.
local here = dirname((debug.getinfo(1, "S").source:gsub("^@", "")))
local function find_home()
  local candidates = {
    os.getenv("LOOM_DATASETS_DIR"),
    here .. "/../../datasets",              -- a checkout: lua/loom/ -> datasets/
    here .. "/../../../loom/datasets",      -- cmake --install: share/lua/5.4/loom -> share/loom/datasets
    here .. "/datasets",                    -- a LuaRocks tree: share/lua/5.4/loom/datasets
  }
  for i = 1, #candidates do
    local dir = candidates[i]
    if dir and dir ~= "" and exists(dir .. "/registry.lua") then return datasets.normalize(dir) end
  end
  return nil
end

-- The project's datasets/ folder (bundled sets, generators, registry, manifests).
function datasets.home()
  local home = find_home()
  if not home then
    error("loom.data: cannot find loom's datasets/ folder (set LOOM_DATASETS_DIR to it)", 0)
  end
  return home
end

-- The cache of fetched sets: $LOOM_DATA, else $XDG_DATA_HOME/loom/datasets, else
-- ~/.local/share/loom/datasets.
function datasets.cache_dir()
  local dir = os.getenv("LOOM_DATA")
  if dir and dir ~= "" then return dir end
  local xdg = os.getenv("XDG_DATA_HOME")
  if xdg and xdg ~= "" then return xdg .. "/loom/datasets" end
  return (os.getenv("HOME") or ".") .. "/.local/share/loom/datasets"
end

-- The mirror folder (upstream layout under <mirror>/<name>/), or nil: $LOOM_DATA_MIRROR
-- (set but empty: none), else a shared/datasets folder beside the project's checkout, the
-- layout of machines that keep one data folder for several checkouts (as CI does here).
function datasets.mirror()
  local dir = os.getenv("LOOM_DATA_MIRROR")
  if dir then return dir ~= "" and dir or nil end
  local home = find_home()
  local beside = home and datasets.normalize(home .. "/../../shared/datasets")
  if beside and exists(beside .. "/README.md") then return beside end
  return nil
end

local registry_cache
-- name -> entry, from datasets/registry.lua (a Lua table, loaded without globals).
function datasets.registry()
  if registry_cache then return registry_cache end
  local path = datasets.home() .. "/registry.lua"
  local chunk, err = loadfile(path, "t", {})
  if not chunk then error("loom.data: " .. err, 0) end
  local entries = chunk()
  for name, e in pairs(entries) do e.name = name end
  registry_cache = entries
  return entries
end

local function entry(name, fn)
  if type(name) ~= "string" then check.fail(fn, "expected a dataset name, got %s", check.kind(name)) end
  local e = datasets.registry()[name]
  if not e then
    local names = {}
    for n in pairs(datasets.registry()) do names[#names + 1] = n end
    table.sort(names)
    check.fail(fn, "unknown dataset '%s' (known: %s)", name, table.concat(names, ", "))
  end
  return e
end

-- The manifest of a set: list of {path = "recordings/0_george_0.wav", sha256 = "..."} and
-- the manifest file's own checksum (which the completion stamp records).
function datasets.manifest(e)
  local file = e.bundled and (datasets.home() .. "/" .. e.name .. "/SHA256SUMS")
    or (datasets.home() .. "/" .. e.manifest)
  local f, err = io.open(file)
  if not f then error("loom.data: " .. err, 0) end
  local list = {}
  for line in f:lines() do
    local sum, path = line:match("^(%x+)%s+%*?(.-)%s*$")
    if sum then list[#list + 1] = {path = path, sha256 = sum:lower()} end
  end
  f:close()
  return list, native.sha256_file(file)
end

local function human_size(bytes)
  if bytes >= 1e7 then return string.format("%.0f MB", bytes / 1e6) end
  if bytes >= 1e6 then return string.format("%.1f MB", bytes / 1e6) end
  return string.format("%.0f KB", bytes / 1e3)
end

local STAMP = ".loom-complete"

-- Where a set is (or will be once fetched).
local function location(e)
  if e.bundled then return datasets.home() .. "/" .. e.name end
  return datasets.cache_dir() .. "/" .. e.name
end

-- What a set's completion stamp records: its manifest's checksum, or for a generated set
-- its generator's, so a changed generator makes the set again.
local function stamp_of(e)
  if e.generator then return native.sha256_file(datasets.generator(e.generator)) end
  local _, sum = datasets.manifest(e)
  return sum
end

-- True when a fetched or generated set's stamp is the current one.
local function complete(e)
  if e.bundled then return exists(location(e) .. "/SHA256SUMS") end
  local f = io.open(location(e) .. "/" .. STAMP)
  if not f then return false end
  local recorded = f:read("l")
  f:close()
  return recorded == stamp_of(e)
end

-- The one-line message for a set that is not here.
function datasets.missing_message(e)
  return string.format("dataset '%s' (%s, %s) is not here: run `loom data fetch %s`",
    e.name, e.title, human_size(e.size or 0), e.name)
end

-- datasets.path(name) -> folder | nil, message
function datasets.path(name)
  local e = entry(name, "data.path")
  if complete(e) then return location(e) end
  return nil, datasets.missing_message(e)
end

-- An error value that loom run and the CLI print as one line, without a traceback.
local MissingData = {__tostring = function(self) return self.message end}

function datasets.is_missing_error(err)
  return getmetatable(err) == MissingData
end

-- datasets.require(name) -> folder; raises a one-line error naming the fetch command.
function datasets.require(name)
  local e = entry(name, "data.require")
  if complete(e) then return location(e) end
  error(setmetatable({message = datasets.missing_message(e)}, MissingData), 2)
end

-- The URLs to try for one file: the mirror first (when set), then each upstream base.
local function sources(e, path)
  local list = {}
  local mirror = datasets.mirror()
  if mirror then
    local abs = mirror:sub(1, 1) == "/" and mirror or (process.cwd() .. "/" .. mirror)
    list[#list + 1] = "file://" .. datasets.normalize(abs .. "/" .. (e.mirror or e.name) .. "/" .. path)
  end
  for _, base in ipairs(e.urls or {}) do list[#list + 1] = base .. path end
  return list
end

local function fetch_file(session, e, item, dest)
  local tmp = dest .. ".part"
  local made, merr = process.mkdir_p(dirname(dest))
  if not made then return nil, merr end
  local errors = {}
  for _, url in ipairs(sources(e, item.path)) do
    local bytes, err = session:get(url, tmp)
    if bytes then
      local sum = native.sha256_file(tmp)
      if sum == item.sha256 then
        local ok, rerr = os.rename(tmp, dest)
        if not ok then return nil, rerr end
        return bytes
      end
      err = string.format("checksum mismatch (got %s, expected %s)", tostring(sum), item.sha256)
    end
    errors[#errors + 1] = url .. ": " .. err
  end
  os.remove(tmp)
  if #errors == 0 then
    return nil, "no source: set LOOM_DATA_MIRROR or add urls to the registry"
  end
  local hint = datasets.mirror() and "" or
    " (without a network, set LOOM_DATA_MIRROR to a folder holding " .. (e.mirror or e.name) .. "/ in the upstream layout)"
  return nil, table.concat(errors, "; ") .. hint
end

local function write_stamp(e, dir, name)
  local f, err = io.open(dir .. "/" .. STAMP, "w")
  if not f then return nil, "data fetch " .. name .. ": " .. err end
  f:write(stamp_of(e), "\n")
  f:close()
  return dir
end

-- A generated set: its generator's generate{out = dir} writes the files.
local function generate(e, dir, opts)
  local made, merr = process.mkdir_p(dir)
  if not made then return nil, "data fetch " .. e.name .. ": " .. merr end
  os.remove(dir .. "/" .. STAMP)
  local ok, err = pcall(function() dofile(datasets.generator(e.generator)).generate{out = dir} end)
  if not ok then return nil, "data fetch " .. e.name .. ": " .. tostring(err) end
  if opts.report then opts.report(1, 1, e.generator) end
  return write_stamp(e, dir, e.name)
end

-- datasets.fetch(name [, {report = function(done, total, path)}]) -> folder | nil, message.
-- Files already present with the right checksum are kept, so an interrupted fetch resumes.
function datasets.fetch(name, opts)
  local e = entry(name, "data.fetch")
  opts = check.options("data.fetch", opts, {report = "function"})
  if e.bundled then return location(e) end
  local dir = location(e)
  if e.generator then return generate(e, dir, opts) end
  local list = datasets.manifest(e)
  local made, merr = process.mkdir_p(dir)
  if not made then return nil, "data fetch " .. name .. ": " .. merr end
  os.remove(dir .. "/" .. STAMP)
  local session <close> = native.fetcher()
  for i, item in ipairs(list) do
    local dest = dir .. "/" .. item.path
    if native.sha256_file(dest) ~= item.sha256 then
      local ok, err = fetch_file(session, e, item, dest)
      if not ok then return nil, string.format("data fetch %s: %s: %s", name, item.path, err) end
    end
    if opts.report then opts.report(i, #list, item.path) end
  end
  return write_stamp(e, dir, name)
end

-- datasets.verify(name) -> true | false, list of "path: problem"
function datasets.verify(name)
  local e = entry(name, "data.verify")
  local dir = location(e)
  if not e.bundled and not exists(dir) then return false, {datasets.missing_message(e)} end
  if e.generator then
    if complete(e) then return true, {} end
    return false, {string.format("made by an older datasets/%s or not finished: run `loom data fetch %s`", e.generator, name)}
  end
  local problems = {}
  for _, item in ipairs((datasets.manifest(e))) do
    local sum = native.sha256_file(dir .. "/" .. item.path)
    if not sum then
      problems[#problems + 1] = item.path .. ": missing"
    elseif sum ~= item.sha256 then
      problems[#problems + 1] = item.path .. ": checksum mismatch"
    end
  end
  return #problems == 0, problems
end

-- datasets.list() -> rows {name, kind, status, size, licence, title, path}, sorted by name.
function datasets.list()
  local rows = {}
  for name, e in pairs(datasets.registry()) do
    local status
    if e.bundled then
      status = "bundled"
    elseif complete(e) then
      status = "present"
    elseif exists(location(e)) then
      status = "partial"
    else
      status = "missing"
    end
    rows[#rows + 1] = {name = name, kind = e.bundled and "bundled" or e.generator and "generated" or "fetched", status = status,
      size = e.size or 0, licence = e.licence, title = e.title, path = location(e),
      size_text = human_size(e.size or 0)}
  end
  table.sort(rows, function(a, b) return a.name < b.name end)
  return rows
end

-- The generator script of a set (datasets/<file>), for experiments that fall back to one.
function datasets.generator(file)
  if type(file) ~= "string" then check.fail("data.generator", "expected a file name, got %s", check.kind(file)) end
  return datasets.home() .. "/" .. file
end

return datasets
