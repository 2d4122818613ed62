-- bible.lua: English -> Spanish verse pairs from two SWORD Bible modules read through
-- diatheke (Debian: diatheke, sword-text-web, sword-text-sparv): the World English Bible
-- (engWEB2015eb) and the Reina-Valera 1909 (spaRV1909eb), markup and Strong's numbers
-- removed, aligned by verse reference. Validation and test sets are whole books
-- (bible.VALID_BOOKS, bible.TEST_BOOKS), so no verse of theirs is seen in training.
-- Not a general OSIS reader: it knows what these two modules contain.
--
-- Command line (or `loom data fetch bible`, which writes into loom's data cache):
--   loom datasets/bible.lua --out DIR   writes DIR/{train,valid,test}.tsv (english<TAB>spanish)
--                                       and DIR/{train,valid,test}.refs (one verse reference a line)
-- From Lua:
--   local bible = dofile(loom.data.generator("bible.lua"))
--   bible.generate{out = DIR} -> {train = n, valid = n, test = n}
--   bible.load(DIR) -> {train = {{ref =, book =, en =, es =}, ...}, valid = ..., test = ...}
local bible = {}

bible.SOURCE = {module = "engWEB2015eb", package = "sword-text-web", title = "World English Bible"}
bible.TARGET = {module = "spaRV1909eb", package = "sword-text-sparv", title = "Reina-Valera 1909"}
bible.PACKAGES = "diatheke sword-text-web sword-text-sparv"

-- The 66 books as diatheke names them (English locale), in order. The WEB module also has
-- the deuterocanonical books; they have no Reina-Valera counterpart and are left out.
bible.BOOKS = {"Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges",
  "Ruth", "I Samuel", "II Samuel", "I Kings", "II Kings", "I Chronicles", "II Chronicles", "Ezra",
  "Nehemiah", "Esther", "Job", "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon", "Isaiah",
  "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos", "Obadiah", "Jonah",
  "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah", "Malachi", "Matthew", "Mark",
  "Luke", "John", "Acts", "Romans", "I Corinthians", "II Corinthians", "Galatians", "Ephesians",
  "Philippians", "Colossians", "I Thessalonians", "II Thessalonians", "I Timothy", "II Timothy",
  "Titus", "Philemon", "Hebrews", "James", "I Peter", "II Peter", "I John", "II John", "III John",
  "Jude", "Revelation of John"}

-- Held-out books: a prophet and two letters for validation (223 verses); narrative, wisdom,
-- a prophet's story and two letters for test (612 verses). None has a parallel account
-- elsewhere (as the synoptic gospels or Kings and Chronicles would).
bible.VALID_BOOKS = {"Joel", "Philippians", "Titus"}
bible.TEST_BOOKS = {"Ruth", "Ecclesiastes", "Jonah", "Galatians", "James"}

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
local CANON = set_of(bible.BOOKS)

-- ---- markup ----

local ENTITIES = {amp = "&", lt = "<", gt = ">", quot = '"', apos = "'"}

-- Elements whose text is not part of the verse: headings, speakers, notes.
local DROPPED = {"title", "speaker", "note"}
-- Elements that separate words (lines, paragraphs, breaks); the others (w, q, transChange,
-- divineName, ...) sit inside running text and leave no space.
local BREAKS = {l = true, lg = true, lb = true, p = true, div = true, chapter = true, milestone = true,
  list = true, item = true}

-- bible.clean(markup) -> plain text: the verse's words without markup or Strong's numbers
-- (attributes of <w>), whitespace collapsed. What follows a book's closing marker (the WEB
-- glossary after Revelation 22:21) is not the verse and is cut.
function bible.clean(markup)
  local s = markup
  local cut = s:find('<div[^>]-eID="[^"]*"[^>]-type="book"')
  if cut then s = s:sub(1, cut - 1) end
  for _, name in ipairs(DROPPED) do
    s = s:gsub("<" .. name .. "[^>]-/>", ""):gsub("<" .. name .. "[%s>].-</" .. name .. ">", "")
  end
  -- The WEB joins some words' elements with no space between ("Yahweh</w><w>God").
  s = s:gsub("</w><w", "</w> <w")
  s = s:gsub("<(/?)([%w]+)[^>]*>", function(_, name) return BREAKS[name] and " " or "" end)
  s = s:gsub("&(%a+);", function(e) return ENTITIES[e] end)
  return (s:gsub("%s+", " "):match("^ ?(.-) ?$"))
end

-- ---- verses ----

-- bible.verses(raw) -> list of {ref = "Genesis 1:1", book = "Genesis", chapter = 1, verse = 1,
-- text = ...}: diatheke's raw output, one verse a line ("<markup>Book C:V: <markup>"),
-- canonical books only, empty verses left out. The WEB puts a psalm's heading in a <title>
-- before verse 1 (the Reina-Valera has it in the verse's text): it is kept as the start of
-- verse 1. diatheke repeats the last heading before every later line, so a heading counts
-- only where the markup before the reference changed from the line before.
function bible.verses(raw)
  local list, previous = {}, nil
  for line in raw:gmatch("[^\n]+") do
    local before, book, c, v, rest = line:match("^(.-)([^<>]-) (%d+):(%d+): (.*)$")
    book = book and book:match("^%s*(.-)%s*$")
    if book and CANON[book] then
      local chapter, verse = tonumber(c), tonumber(v)
      local text = bible.clean(rest)
      if verse == 1 and before ~= previous then
        local heading = before:match('<title[^>]-type="psalm"[^>]*>(.-)</title>')
        if heading then text = bible.clean(heading) .. " " .. text end
      end
      if text ~= "" then
        list[#list + 1] = {ref = string.format("%s %d:%d", book, chapter, verse), book = book,
          chapter = chapter, verse = verse, text = text}
      end
    end
    previous = before
  end
  return list
end

-- ---- the Reina-Valera's capitals at chapter starts ----

local LOWER = {["Á"] = "á", ["É"] = "é", ["Í"] = "í", ["Ó"] = "ó", ["Ú"] = "ú", ["Ü"] = "ü", ["Ñ"] = "ñ"}
local function lower(w)
  return (w:gsub("\xC3[\x81\x89\x8D\x93\x9A\x9C\x91]", LOWER):lower())
end
local UPPER = {}
for up, low in pairs(LOWER) do UPPER[low] = up end
local function capitalise(w)
  local first = w:match("^\xC3[\x80-\xBF]") or w:sub(1, 1)
  return (UPPER[first] or first:upper()) .. w:sub(#first + 1)
end
local function all_caps(w)
  return #w >= 2 and not w:find("%l") and not w:find("\xC3[\xA0-\xBF]") and w:find("%u") ~= nil
end
local WORD = "[%w\128-\255]+"

-- bible.uncap(verses) -> verses: the printed edition sets the first word or two of each
-- chapter in capitals ("EN el principio", "Y ACONTECIÓ"); those words get the spelling the
-- rest of the text uses most (names keep their capital: "JEHOVÁ" -> "Jehová"), else lower
-- case, and the verse's first letter stays a capital. Changes the texts in place.
function bible.uncap(verses)
  local forms = {} -- lower-case word -> {spelling = count}, from words not first in a verse
  for _, v in ipairs(verses) do
    local first = true
    for w in v.text:gmatch(WORD) do
      if not first and not all_caps(w) then
        local key = lower(w)
        forms[key] = forms[key] or {}
        forms[key][w] = (forms[key][w] or 0) + 1
      end
      first = false
    end
  end
  local function usual(w)
    local best, n = lower(w), 0
    for form, count in pairs(forms[lower(w)] or {}) do
      if count > n or (count == n and form < best) then best, n = form, count end
    end
    return best
  end
  for _, v in ipairs(verses) do
    if v.verse == 1 then
      local k = 0
      v.text = v.text:gsub(WORD, function(w)
        k = k + 1
        if k > 2 or not all_caps(w) then return nil end
        local u = usual(w)
        return k == 1 and capitalise(u) or u
      end)
    end
  end
  return verses
end

-- bible.align(source_verses, target_verses) -> list of {ref, book, en, es}, in the source's
-- order, for the references both have.
function bible.align(source, target)
  local by_ref = {}
  for _, v in ipairs(target) do by_ref[v.ref] = v.text end
  local out = {}
  for _, v in ipairs(source) do
    local t = by_ref[v.ref]
    if t then out[#out + 1] = {ref = v.ref, book = v.book, en = v.text, es = t} end
  end
  return out
end

-- bible.split(pairs) -> train, valid, test: by book (VALID_BOOKS, TEST_BOOKS, the rest).
function bible.split(pairs_)
  local valid_books, test_books = set_of(bible.VALID_BOOKS), set_of(bible.TEST_BOOKS)
  local train, valid, test = {}, {}, {}
  for _, p in ipairs(pairs_) do
    local into = test_books[p.book] and test or valid_books[p.book] and valid or train
    into[#into + 1] = p
  end
  return train, valid, test
end

-- ---- reading the modules ----

local function fail(msg) error("bible: " .. msg, 0) end

-- The raw text of a module's 66 books through diatheke (no shell).
function bible.read_module(m)
  local process = require("loom.core").process
  local code, out, err = process.capture({"diatheke", "-b", m.module, "-k", "Gen-Rev"})
  if not code then
    fail(string.format("cannot run diatheke (%s): apt-get install %s", out, bible.PACKAGES))
  end
  if code ~= 0 then
    fail(string.format("diatheke -b %s failed (%d): %s", m.module, code, (err or ""):match("[^\n]*")))
  end
  return out
end

function bible.read_verses(m)
  local verses = bible.verses(bible.read_module(m))
  if #verses == 0 then
    fail(string.format("the SWORD module %s (%s) is not installed: apt-get install %s", m.module,
      m.title, bible.PACKAGES))
  end
  return verses
end

-- ---- files ----

local SPLITS = {"train", "valid", "test"}

local function write(path, lines)
  local f, err = io.open(path, "w")
  if not f then fail(err) end
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

-- bible.write(dir, {train =, valid =, test =}) -> counts: <split>.tsv (english<TAB>spanish,
-- tabs in verses turned into spaces) and <split>.refs.
function bible.write(dir, splits)
  local counts = {}
  for _, name in ipairs(SPLITS) do
    local tsv, refs = {}, {}
    for i, p in ipairs(splits[name]) do
      tsv[i] = p.en:gsub("\t", " ") .. "\t" .. p.es:gsub("\t", " ")
      refs[i] = p.ref
    end
    write(dir .. "/" .. name .. ".tsv", tsv)
    write(dir .. "/" .. name .. ".refs", refs)
    counts[name] = #tsv
  end
  return counts
end

-- bible.load(dir) -> {train = pairs, valid = pairs, test = pairs}, each pair {ref, book, en, es}.
function bible.load(dir)
  local out = {}
  for _, name in ipairs(SPLITS) do
    local list, refs = {}, {}
    for ref in io.lines(dir .. "/" .. name .. ".refs") do refs[#refs + 1] = ref end
    local i = 0
    for line in io.lines(dir .. "/" .. name .. ".tsv") do
      i = i + 1
      local en, es = line:match("^([^\t]*)\t(.*)$")
      local ref = refs[i] or fail(string.format("%s/%s.refs has fewer lines than %s.tsv", dir, name, name))
      list[i] = {ref = ref, book = ref:match("^(.-) %d+:%d+$"), en = en, es = es}
    end
    out[name] = list
  end
  return out
end

-- bible.generate{out = DIR} -> counts {train =, valid =, test =}
function bible.generate(o)
  if type(o) ~= "table" or type(o.out) ~= "string" then fail("generate{out = DIR} needs a folder") end
  local pairs_ = bible.align(bible.read_verses(bible.SOURCE), bible.uncap(bible.read_verses(bible.TARGET)))
  local train, valid, test = bible.split(pairs_)
  local made, err = require("loom.core").process.mkdir_p(o.out)
  if not made then fail(err) end
  return bible.write(o.out, {train = train, valid = valid, test = test})
end

function bible.main(args)
  if args[1] ~= "--out" or not args[2] or args[3] then
    io.stderr:write("usage: loom datasets/bible.lua --out DIR\n")
    return 2
  end
  local ok, counts = pcall(bible.generate, {out = args[2]})
  if not ok then
    io.stderr:write(tostring(counts), "\n")
    return 1
  end
  print(string.format("%s: %d train, %d valid, %d test pairs", args[2], counts.train, counts.valid, counts.test))
  return 0
end

local this_file = debug.getinfo(1, "S").source:sub(2)
if arg and arg[0] == this_file then
  os.exit(bible.main(arg))
end

return bible
