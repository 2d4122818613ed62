-- test_text.lua: loom.text (vocabulary, batches, FNV-1a) and loom.agreement's data side.
local loom = require "loom"
local text = require "loom.text"
local agreement = require "loom.agreement"

test("fnv1a32 matches the published test vectors", function()
  equal(loom.data.fnv1a32(""), 0x811c9dc5, "empty")
  equal(loom.data.fnv1a32("a"), 0xe40c292c, "a")
  equal(loom.data.fnv1a32("foobar"), 0xbf9cf968, "foobar")
end)

test("vocab: pad 1, unk 2, by count then alphabetically, min_count", function()
  local v = text.vocab({{"b", "a", "b"}, {"c", "a", "b"}, {"d"}}, {min_count = 1})
  equal(v:size(), 6, "size")
  equal(table.concat(v.itos, " "), "<pad> <unk> b a c d", "order")
  equal(table.concat(v:encode({"a", "zz", "d"}), " "), "4 2 6", "encode with unknown")
  local v2 = text.vocab({{"b", "a", "b"}, {"c", "a", "b"}, {"d"}}, {min_count = 2})
  equal(table.concat(v2.itos, " "), "<pad> <unk> b a", "min_count drops rare tokens")
  local back = text.vocab_from_string(v:serialize())
  equal(table.concat(back.itos, " "), table.concat(v.itos, " "), "serialize round trip")
  checkerror("loom.text.vocab_from_string: a vocabulary starts with <pad> and <unk>", text.vocab_from_string, "a\nb")
end)

test("batches: time-major ids, padding, lengths, sorted by length", function()
  local ex = {
    {ids = {5, 6, 7}, label = 1}, {ids = {8}, label = 2}, {ids = {9, 10}, label = 1},
  }
  local bs = text.batches(ex, 2, 1)
  equal(#bs, 2, "batch count")
  local b1 = bs[1]
  equal(b1.X:rows(), 2, "T of the first batch (lengths 1 and 2)")
  equal(b1.X:cols(), 2, "B")
  equal(b1.X:get(1, 1), 8, "step 1 of the shortest")
  equal(b1.X:get(2, 1), 1, "padding past its end")
  equal(b1.X:get(2, 2), 10, "step 2 of the second")
  equal(table.concat(b1.lengths, ","), "1,2", "lengths")
  equal(b1.labels:get(1, 1), 2, "label follows its sequence")
  equal(bs[2].X:rows(), 3, "last batch holds the longest")
end)

test("agreement: parse, bucket split, errors", function()
  local ex = agreement.parse("VBP\tthe keys to the cabinet")
  equal(ex.label, 2, "VBP is class 2")
  equal(#ex.words, 5, "words")
  local _, err = agreement.parse("XYZ the")
  equal(err, "expected VBZ or VBP, a tab, then the sentence", "bad line")
  local counts = {train = 0, val = 0, test = 0}
  for i = 1, 2000 do
    local b = agreement.bucket("VBZ\tline " .. i)
    counts[b] = counts[b] + 1
  end
  check(counts.train > 1200 and counts.train < 1600, "about 70%% train, got %d", counts.train)
  check(counts.val > 120 and counts.val < 280, "about 10%% validation, got %d", counts.val)
  local path = os.tmpname()
  local f = io.open(path, "w"); f:write("VBZ\tthe dog\nbroken line\n"); f:close()
  local list, rerr = agreement.read(path)
  os.remove(path)
  check(list == nil, "a broken file gives nil")
  equal(rerr, path .. ":2: expected VBZ or VBP, a tab, then the sentence", "message")
end)

test("agreement: the real data splits by the protocol", function()
  local dir = data_dir("linzen-agreement")
  local sets = assert(agreement.load_linzen(dir))
  local total = #sets.train + #sets.val
  for _, k in ipairs({"mixed", 1, 2, 3, 4, 5}) do total = total + #sets.test[k] end
  equal(total, 80522, "every line lands in exactly one split")
  check(#sets.test[4] > 60 and #sets.test[4] < 180, "test.4 holds about 20%% of 561 lines")
end)

test("synthetic grammar: attractor counts and labels", function()
  local grammar = dofile(PROJECT_DIR .. "/datasets/agreement.lua")
  loom.seed(5)
  local list = grammar.generate(200, {attractors = {2, 2}})
  for _, s in ipairs(list) do
    equal(s.attractors, 2, "attractors")
    check(s.label == "VBZ" or s.label == "VBP", "label")
    -- Count nouns of the other number after the subject: they must be exactly 2.
    local sing, plur = {}, {}
    for _, pair in ipairs(grammar.nouns) do sing[pair[1]] = true; plur[pair[2]] = true end
    local subject_plural, seen, other = nil, false, 0
    for _, w in ipairs(s.words) do
      if sing[w] or plur[w] then
        if not seen then subject_plural, seen = plur[w] ~= nil, true
        elseif (plur[w] ~= nil) ~= subject_plural then other = other + 1 end
      end
    end
    equal(other, 2, "attractors counted in '" .. s.line .. "'")
    equal(s.label, subject_plural and "VBP" or "VBZ", "label agrees with the subject")
  end
end)
