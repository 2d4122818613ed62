-- test_subword.lua: loom.text.sentencepiece (src/core/subword.cpp over libsentencepiece,
-- src/bind/subword.c): training, encode/decode, segmentation equal to the library's own
-- spm_encode, every misuse an error, and damaged model files refused without a crash
-- (src/core/subword_check.c). Not the translation experiment (test_translation.lua).
local loom = require "loom"
local sp_lib = loom.text.sentencepiece
local process = require("loom.core").process

local dir = os.tmpname()
os.remove(dir)
assert(process.mkdir_p(dir))

-- A small corpus: English and Spanish lines, enough for a 300-piece unigram model.
local function corpus()
  local words = {"the", "earth", "was", "formless", "and", "empty", "darkness", "surface", "deep",
    "spirit", "waters", "light", "said", "there", "God", "heavens", "beginning", "created", "tierra",
    "cielos", "principio", "luz", "aguas", "dijo", "espíritu", "abismo", "vacía", "tinieblas"}
  local lines = {}
  for i = 1, 400 do
    local line = {}
    for j = 1, 3 + i % 9 do line[j] = words[(i * 7 + j * 13) % #words + 1] end
    lines[i] = table.concat(line, " ") .. (i % 3 == 0 and "." or ",")
  end
  return lines
end

local model_path
local function model()
  if not model_path then
    model_path = sp_lib.train{model_prefix = dir .. "/m", vocab_size = 50, sentences = corpus(),
      num_threads = 1, character_coverage = 1}
  end
  return assert(sp_lib.load(model_path))
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

test("train writes a model; encode gives pieces and 1-based ids; decode restores the text", function()
  local sp = model()
  equal(model_path, dir .. "/m.model", "the model path")
  check(io.open(dir .. "/m.vocab"), "the vocabulary file is written too")
  equal(sp:size(), 50, "vocabulary size")
  equal(sp:piece(sp:unk_id()), "<unk>", "the unknown piece")
  local text = "God said, let there be light."
  local pieces, ids = sp:encode(text)
  check(#pieces > 3 and #pieces == #ids, "pieces and ids: %d, %d", #pieces, #ids)
  for i, p in ipairs(pieces) do
    if ids[i] ~= sp:unk_id() then equal(sp:piece(ids[i]), p, "piece " .. i) end
    check(ids[i] >= 1 and ids[i] <= sp:size(), "id %d in range", ids[i])
  end
  equal(pieces[1]:sub(1, 3), "\u{2581}", "a word starts with U+2581")
  equal(sp:decode(ids), text, "decode(ids)")
  equal(sp:decode(pieces), text, "decode(pieces)")
  equal(sp:id(pieces[2]), ids[2], "id of a piece")
  equal(sp:id("no such piece"), sp:unk_id(), "an unknown piece")
  local empty_pieces, empty_ids = sp:encode("")
  equal(#empty_pieces + #empty_ids, 0, "nothing in, nothing out")
  equal(sp:decode({}), "", "nothing to decode")
end)

test("segmentation equals the library's own spm_encode on the same model and text", function()
  local sp = model()
  local lines = {"In the beginning, God created the heavens and the earth.",
    "Y la tierra estaba desordenada y vacía, y las tinieblas estaban sobre la haz del abismo.",
    "unknown glyphs 鬱 and digits 1909 ¡sí!", "  spaces   twice  ", "x"}
  write(dir .. "/in.txt", table.concat(lines, "\n") .. "\n")
  local function spm_encode(format)
    local code, out, err = process.capture({"spm_encode", "--model=" .. model_path,
      "--output_format=" .. format, "--input=" .. dir .. "/in.txt"})
    if not code then skip("spm_encode is not installed (apt-get install sentencepiece)") end
    equal(code, 0, "spm_encode: " .. tostring(err))
    local rows = {}
    for line in (out .. ""):gmatch("([^\n]*)\n") do rows[#rows + 1] = line end
    return rows
  end
  local piece_rows, id_rows = spm_encode("piece"), spm_encode("id")
  equal(#piece_rows, #lines, "one line out per line in")
  for i, line in ipairs(lines) do
    local pieces, ids = sp:encode(line)
    equal(table.concat(pieces, " "), piece_rows[i], "pieces of line " .. i)
    local zero_based = {}
    for k, id in ipairs(ids) do zero_based[k] = id - 1 end
    equal(table.concat(zero_based, " "), id_rows[i], "ids of line " .. i)
  end
end)

test("misuse is an error naming the function", function()
  local sp = model()
  checkerror("sentencepiece.train: model_prefix (where to write <prefix>.model) is required",
    sp_lib.train, {sentences = {"a"}})
  checkerror('sentencepiece.train: give the training text as input = "file" or sentences = {...}',
    sp_lib.train, {model_prefix = dir .. "/x"})
  checkerror("sentencepiece.train: sentences must be a list of strings, got string", sp_lib.train,
    {model_prefix = dir .. "/x", sentences = "a"})
  checkerror("sentencepiece.train: sentences[2] must be a string, got number", sp_lib.train,
    {model_prefix = dir .. "/x", sentences = {"a", 2}})
  checkerror("sentencepiece.train: sentences is an empty list", sp_lib.train,
    {model_prefix = dir .. "/x", sentences = {}})
  checkerror("sentencepiece.train: vocab_size must be a string, number or boolean, got table",
    sp_lib.train, {model_prefix = dir .. "/x", sentences = {"a"}, vocab_size = {}})
  checkerror('sentencepiece.train: unknown field name "bogus" in TrainerSpec.', sp_lib.train,
    {model_prefix = dir .. "/x", sentences = {"a"}, bogus = 1})
  checkerror_like("Vocabulary size too high (5000)", sp_lib.train,
    {model_prefix = dir .. "/x", sentences = corpus(), vocab_size = 5000})
  checkerror("sentencepiece:encode: text must be a string, got nil", sp.encode, sp, nil)
  checkerror("sentencepiece:encode: expected a sentencepiece model (call it as sp:encode(...)), got string",
    sp.encode, "text")
  checkerror("sentencepiece:decode: expected a list of ids or pieces, got string", sp.decode, sp, "x")
  checkerror("sentencepiece:decode: item 2 must be a piece or an id in 1..50, got 51", sp.decode, sp, {5, 51})
  checkerror("sentencepiece:decode: item 1 must be a piece or an id in 1..50, got boolean", sp.decode, sp, {true})
  checkerror("sentencepiece:piece: id must be an integer in 1..50, got 0", sp.piece, sp, 0)
  checkerror("sentencepiece:id: piece must be a string, got number", sp.id, sp, 3)
  sp:close()
  sp:close()
  checkerror("attempt to use a closed sentencepiece model", sp.size, sp)
end)

test("load: a missing or damaged model file is nil and a message, never a crash", function()
  model()
  local good = read(model_path)
  local function load_bytes(bytes)
    write(dir .. "/bad.model", bytes)
    return sp_lib.load(dir .. "/bad.model")
  end
  local none, why = sp_lib.load(dir .. "/missing.model")
  equal(none, nil, "missing")
  check(why:find("missing.model: cannot open", 1, true), "message: %s", why)
  local _, empty = load_bytes("")
  check(empty:find("not a sentencepiece model (empty)", 1, true), "empty: %s", empty)
  local _, text = load_bytes("this is not a model\n")
  check(text:find("not a sentencepiece model", 1, true), "text: %s", text)
  local _, cut = load_bytes(good:sub(1, #good // 2))
  check(cut:find("not a sentencepiece model", 1, true), "truncated: %s", cut)
  -- a vocabulary the library parses but whose unknown piece is missing (found by the fuzzer,
  -- tests/fuzz/corpus_subword/bad-no-unknown-piece.model)
  local f = assert(io.open(PROJECT_DIR .. "/tests/fuzz/corpus_subword/bad-no-unknown-piece.model", "rb"))
  local nounk = f:read("a")
  f:close()
  local none_unk, unk_why = load_bytes(nounk)
  equal(none_unk, nil, "no unknown piece")
  check(unk_why:find("not a sentencepiece model (its unknown piece has id -1 of 5 pieces)", 1, true), "%s", unk_why)
  -- The normalisation table (precompiled_charsmap) is most of the file: damage inside it
  -- is what the library would read out of bounds; the check refuses it first.
  local at = good:find("\x12", good:find("\x1a", 1, true), true) -- NormalizerSpec, field 2
  check(at, "the model has a normalisation table")
  local hostile = good:sub(1, #good // 2) .. string.rep("\xff", 64) .. good:sub(#good // 2 + 65)
  local bad, msg = load_bytes(hostile)
  equal(bad, nil, "a table overwritten with 0xff")
  check(msg:find("normalisation table", 1, true) or msg:find("not a sentencepiece model", 1, true), "%s", msg)
  -- Seeded mutations (random bytes, bit flips, truncation): each loads or is refused.
  local rng, refused, loaded = 12345, 0, 0
  local function rand(n)
    rng = (rng * 1103515245 + 12345) % 2147483648
    return rng % n + 1
  end
  for _ = 1, 60 do
    local b = {good:byte(1, -1)}
    local kind = rand(3)
    if kind == 1 then
      for _ = 1, rand(8) do b[rand(#b)] = rand(256) - 1 end
    elseif kind == 2 then
      local p = rand(#b)
      b[p] = b[p] ~ (1 << (rand(8) - 1))
    else
      for k = #b, rand(#b), -1 do b[k] = nil end
    end
    local parts = {}
    for i = 1, #b, 4096 do parts[#parts + 1] = string.char(table.unpack(b, i, math.min(i + 4095, #b))) end
    local sp, err = load_bytes(table.concat(parts))
    if sp then
      loaded = loaded + 1
      local pieces, ids = sp:encode("Y dijo Dios: sea la luz, 鬱 1909")
      sp:decode(ids)
      sp:decode(pieces)
    else
      refused = refused + 1
      check(type(err) == "string" and #err > #dir + 12, "a message: %s", tostring(err))
    end
  end
  check(refused > 0, "some mutations are refused (%d loaded)", loaded)
end)
