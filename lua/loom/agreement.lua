-- loom.agreement: the number-prediction data of Linzen, Dupoux & Goldberg (2016) and its
-- split protocol (FNV-1a 32-bit of the line, bucket = hash mod 10: 0-6 train, 7
-- validation, 8-9 test, in every file). Not the model: scripts/experiments/agreement.lua.
local text = require "loom.text"
local data = require "loom.data"

local agreement = {}

agreement.LABELS = {"VBZ", "VBP"} -- class 1: singular verb, class 2: plural verb
local CLASS = {VBZ = 1, VBP = 2}

function agreement.bucket(line)
  local b = data.fnv1a32(line) % 10
  if b <= 6 then return "train" elseif b == 7 then return "val" end
  return "test"
end

-- Parse one "VBZ<TAB>words ..." line into {label = 1|2, words = {...}, line = line},
-- or nil and a message.
function agreement.parse(line)
  local tag, sentence = line:match("^(%u+)\t(.*)$")
  if not tag or not CLASS[tag] then
    return nil, "expected VBZ or VBP, a tab, then the sentence"
  end
  return {label = CLASS[tag], words = text.tokenize(sentence), line = line}
end

-- The text of path, or of path.gz when only the compressed file is there (the bundled
-- copies are gzip); a gzip stream cut short is an error, not a shorter file.
local function read_text(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return data.read_text(path)
  end
  local gz = io.open(path .. ".gz", "rb")
  if gz then
    gz:close()
    return data.read_text(path .. ".gz")
  end
  return nil, path .. ": No such file or directory"
end

-- agreement.read(path) -> list of examples | nil, "path:line: message".
-- Reads path, or path.gz when only that exists.
function agreement.read(path)
  local content, err = read_text(path)
  if not content then return nil, err end
  local out, n = {}, 0
  for line in content:gmatch("([^\n]*)\n?") do
    n = n + 1
    line = line:gsub("\r$", "")
    if line ~= "" then
      local ex, perr = agreement.parse(line)
      if not ex then return nil, string.format("%s:%d: %s", path, n, perr) end
      out[#out + 1] = ex
    end
  end
  return out
end

-- The real data in dir (numpred.val and numpred.test.1..5), split by the protocol:
-- {train = {...}, val = {...}, test = {mixed = {...}, [1] = {...}, ..., [5] = {...}}}.
-- Training and validation lines come from every file; each test set keeps its origin.
function agreement.load_linzen(dir)
  local sets = {train = {}, val = {}, test = {}}
  local files = {{"numpred.val", "mixed"}}
  for k = 1, 5 do files[#files + 1] = {"numpred.test." .. k, k} end
  for _, spec in ipairs(files) do
    local examples, err = agreement.read(dir .. "/" .. spec[1])
    if not examples then return nil, err end
    local test = {}
    for _, ex in ipairs(examples) do
      local b = agreement.bucket(ex.line)
      ex.origin = spec[2]
      if b == "test" then test[#test + 1] = ex else table.insert(sets[b], ex) end
    end
    sets.test[spec[2]] = test
  end
  return sets
end

-- Synthetic data with the same shape, from datasets/agreement.lua's grammar:
-- train/val with 0..max_attractors attractors, test.mixed like train, test[k] exactly k.
function agreement.synthetic(grammar, sizes)
  local function convert(list)
    for i, s in ipairs(list) do
      list[i] = {label = CLASS[s.label], words = s.words, line = s.line,
        attractors = s.attractors, distance = s.distance}
    end
    return list
  end
  local maxk = sizes.max_attractors or 2
  local sets = {
    train = convert(grammar.generate(sizes.train, {attractors = {0, maxk}})),
    val = convert(grammar.generate(sizes.val, {attractors = {0, maxk}})),
    test = {mixed = convert(grammar.generate(sizes.test, {attractors = {0, maxk}}))},
  }
  for k = 1, 5 do
    sets.test[k] = convert(grammar.generate(sizes.test_per_k or sizes.test, {attractors = {k, k}}))
  end
  return sets
end

return agreement
