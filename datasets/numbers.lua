-- numbers.lua: number-word translation pairs generated through ICU's spell-out rules
-- (loom.spellout): French (or German, Spanish, ...) number words to English words or
-- digits, e.g. "quatre-vingt-dix-sept" -> "ninety-seven". Train and test are disjoint by
-- number; the number of digits is uniform, so short and long numbers are equally present
-- (test numbers have at least 3 digits, see numbers.generate).
-- Not a parser of number words.
--
-- Command line:
--   loom datasets/numbers.lua --out DIR [--source fr] [--target en|digits] [--train 20000]
--        [--test 2000] [--max 999999] [--seed 1] [--chars]     writes DIR/train.tsv, DIR/test.tsv
-- From Lua:
--   local numbers = dofile("datasets/numbers.lua")
--   local train, test = numbers.generate{source = "fr", target = "en", train = 20000, test = 2000}
local numbers = {}

-- Word tokens, hyphens as tokens of their own ("quatre - vingt - dix - sept"); with chars,
-- one token per character and "_" for a space (German writes numbers as one word).
function numbers.tokens(words, chars)
  local out = {}
  if chars then
    for _, code in utf8.codes(words) do
      local ch = utf8.char(code)
      out[#out + 1] = ch == " " and "_" or ch
    end
    return out
  end
  for w in words:gsub("%-", " - "):gmatch("%S+") do out[#out + 1] = w end
  return out
end

-- numbers.text(tokens, chars) -> the words numbers.tokens split: hyphens joined back to
-- their neighbours ("eighty - three" -> "eighty-three"); with chars, "_" back to spaces.
function numbers.text(tokens, chars)
  if chars then return (table.concat(tokens):gsub("_", " ")) end
  return (table.concat(tokens, " "):gsub(" %- ", "-"))
end

-- A number with a uniformly chosen count of digits (min_digits..digits of max), uniform
-- among those.
local function draw(loom, max, min_digits)
  local digits = #tostring(max)
  local d, lo = min_digits - 1 + loom.random_int(digits - min_digits + 1), 1
  for _ = 2, d do lo = lo * 10 end
  local hi = math.min(lo * 10 - 1, max)
  return lo + loom.random_int(hi - lo + 1) - 1
end

-- numbers.generate{source = "fr", target = "en" | "digits" | locale, train = 20000,
--   test = 2000, max = 999999, seed = 1, chars = false} -> train, test
-- Each pair is {src = tokens, tgt = tokens, n = number}; test numbers never occur in train.
function numbers.generate(o)
  local loom = require "loom"
  o = o or {}
  local max, n_train, n_test = o.max or 999999, o.train or 20000, o.test or 2000
  if n_train + n_test > max then
    error(string.format("numbers.generate: %d distinct numbers asked for, but only %d exist up to %d",
      n_train + n_test, max, max), 2)
  end
  local source = loom.spellout(o.source or "fr")
  local target = (o.target or "en") ~= "digits" and loom.spellout(o.target or "en") or nil
  loom.seed(o.seed or 1)
  local seen = {}
  local function pairs_of(count, min_digits)
    local list = {}
    while #list < count do
      local n = draw(loom, max, min_digits)
      if not seen[n] then
        seen[n] = true
        local tgt
        if target then
          tgt = numbers.tokens(target:format(n), o.chars)
        else
          tgt = {}
          for d in tostring(n):gmatch("%d") do tgt[#tgt + 1] = d end
        end
        list[#list + 1] = {src = numbers.tokens(source:format(n), o.chars), tgt = tgt, n = n}
      end
    end
    return list
  end
  -- Test numbers have 3 digits or more: the 99 smaller ones are the words every longer
  -- number is built from, so all of them stay available to training. Drawn first, so the
  -- test set does not depend on n_train.
  local test = pairs_of(n_test, math.min(3, #tostring(max)))
  local train = pairs_of(n_train, 1)
  return train, test
end

local function write(path, list)
  local f = assert(io.open(path, "w"))
  for _, p in ipairs(list) do f:write(table.concat(p.src, " "), "\t", table.concat(p.tgt, " "), "\n") end
  f:close()
end

function numbers.main(args)
  local o, i = {}, 1
  while i <= #args do
    local k, v = args[i], args[i + 1]
    if k == "--chars" then
      o.chars, i = true, i + 1
    elseif k == "--out" or k == "--source" or k == "--target" then
      o[k:sub(3)], i = v, i + 2
    elseif k == "--train" or k == "--test" or k == "--max" or k == "--seed" then
      o[k:sub(3)] = math.tointeger(tonumber(v))
      if not o[k:sub(3)] then
        io.stderr:write("numbers.lua: " .. k .. " takes an integer\n")
        return 2
      end
      i = i + 2
    else
      io.stderr:write("numbers.lua: unknown option " .. tostring(k) .. "\n")
      return 2
    end
  end
  if not o.out then
    io.stderr:write("numbers.lua: --out DIR is required\n")
    return 2
  end
  local train, test = numbers.generate(o)
  os.execute("mkdir -p '" .. o.out:gsub("'", "'\\''") .. "'")
  write(o.out .. "/train.tsv", train)
  write(o.out .. "/test.tsv", test)
  return 0
end

local this_file = debug.getinfo(1, "S").source:sub(2)
if arg and arg[0] == this_file then
  os.exit(numbers.main(arg))
end

return numbers
