-- test_numbers.lua: loom.spellout (ICU's rule-based spell-out, src/core/numwords.c) and the
-- number-word pair generator datasets/numbers.lua: values, soft hyphens, disjoint splits.
local loom = require "loom"
local numbers = dofile(PROJECT_DIR .. "/datasets/numbers.lua")

test("spellout: French, English, Spanish and German words as ICU's rules give them", function()
  local fr, en, es, de = loom.spellout("fr"), loom.spellout("en"), loom.spellout("es"), loom.spellout("de")
  equal(fr:format(97), "quatre-vingt-dix-sept", "fr 97")
  equal(fr:format(71), "soixante-et-onze", "fr 71")
  equal(fr:format(180021), "cent quatre-vingt mille vingt-et-un", "fr 180021")
  equal(en:format(97), "ninety-seven", "en 97")
  equal(en:format(999999), "nine hundred ninety-nine thousand nine hundred ninety-nine", "en 999999")
  equal(es:format(71), "setenta y uno", "es 71")
  equal(de:format(97), "siebenundneunzig", "de 97")
  equal(fr:locale(), "fr", "locale")
end)

test("spellout: German soft hyphens (U+00AD) are removed", function()
  local de = loom.spellout("de")
  for _, n in ipairs{1100, 21000, 123456, 999999, 1000001} do
    local w = de:format(n)
    check(not w:find("\xC2\xAD", 1, true), "soft hyphen in %d: %s", n, w)
  end
  equal(de:format(1100), "eintausendeinhundert", "1100 as one word")
end)

test("spellout: errors and released spellers", function()
  local fr = loom.spellout("fr")
  checkerror("speller:format: expected an integer, got string", fr.format, fr, "x")
  checkerror("speller:format: expected an integer, got number", fr.format, fr, 1.5)
  fr:close()
  checkerror("attempt to use a released speller", fr.format, fr, 1)
  fr:close() -- twice is fine
end)

test("generator: seeded, disjoint by number, digit counts spread, tokens", function()
  local train, test = numbers.generate{source = "fr", target = "en", train = 300, test = 100, seed = 5}
  equal(#train, 300, "train size")
  equal(#test, 100, "test size")
  local seen = {}
  for _, p in ipairs(test) do seen[p.n] = true end
  for _, p in ipairs(train) do check(not seen[p.n], "number %d in both splits", p.n) end
  for _, p in ipairs(test) do check(p.n >= 100, "test numbers have 3 digits or more, got %d", p.n) end
  local digits = {}
  for _, p in ipairs(train) do digits[#tostring(p.n)] = true end
  for d = 1, 6 do check(digits[d], "some %d-digit numbers", d) end
  local again = numbers.generate{source = "fr", target = "en", train = 300, test = 100, seed = 5}
  equal(again[17].n, train[17].n, "same seed, same numbers")
  equal(table.concat(numbers.tokens("quatre-vingt-dix-sept"), " "), "quatre - vingt - dix - sept", "word tokens")
  equal(table.concat(numbers.tokens("zwei und", true), " "), "z w e i _ u n d", "character tokens")
  local _, t2 = numbers.generate{target = "digits", train = 5, test = 5, seed = 2}
  equal(table.concat(t2[1].tgt, ""), tostring(t2[1].n), "digit targets")
  checkerror("numbers.generate: 20 distinct numbers asked for, but only 9 exist up to 9", numbers.generate,
    {train = 10, test = 10, max = 9})
  local small_train, small_test = numbers.generate{train = 5, test = 3, max = 9, seed = 1}
  equal(#small_train + #small_test, 8, "a 1-digit range still splits")
end)

test("the translation experiment runs task=numbers and reports exact match by digits", function()
  local bin = os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom")
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "'")
  local cmd = string.format("cd '%s' && LOOM_DB='%s/runs.db' '%s' run --quiet '%s' task=numbers numbers_train=300 numbers_test=40 epochs=1 hidden=16 embed=8 2>&1",
    dir, dir, bin, PROJECT_DIR .. "/scripts/experiments/translation.lua")
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok = p:close()
  check(ok, "exit status:\n%s", out)
  check(out:find("ICU spell-out fr -> en", 1, true), "data line:\n%s", out)
  check(out:find("digits  numbers", 1, true), "table by digits:\n%s", out)
end)
