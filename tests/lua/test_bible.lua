-- test_bible.lua: the Bible pair generator (datasets/bible.lua) on a few verses of markup as
-- diatheke prints them: cleaning, psalm headings, alignment by reference, the book split;
-- the `bible` entry of the registry; and the word-for-word baseline (loom.dictionary) on a
-- tiny dictd dictionary. Not the whole Bible (`loom data fetch bible` makes it, in seconds).
local loom = require "loom"
local bible = dofile(PROJECT_DIR .. "/datasets/bible.lua")
local dictionary = loom.dictionary
local process = require("loom.core").process

local dir = os.tmpname()
os.remove(dir)
assert(process.mkdir_p(dir))

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- As diatheke -b engWEB2015eb prints them: Strong's numbers in <w>, glued words, headings
-- repeated on later lines, the glossary after the last verse.
local WEB = table.concat({
  'Genesis 1:1: <w savlm="strong:H0430">In</w> <w savlm="strong:H0853">the</w> beginning, <w savlm="strong:H0430">God</w><w savlm="strong:H1254">created</w> the heavens.',
  '<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="g1"/> <l level="1" sID="g2"/>Psalms 3:1: Yahweh, how my adversaries have increased!<l eID="g2" level="1"/> <l level="2" sID="g3"/>Many rise up.',
  '<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="g1"/> <l level="1" sID="g2"/>Psalms 3:2: Many there are who say, “<w savlm="strong:H3068">There</w> is no help.”',
  '<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="g1"/> <l level="1" sID="g2"/>Psalms 4:1: Answer me &amp; hear.',
  '<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="g1"/> <l level="1" sID="g2"/>Tobit 1:1: The book of the words of Tobit.',
  'Ruth 1:1: In the days when the judges judged.',
  'Joel 1:1: Yahweh’s word.',
  'Revelation of John 22:21: The grace of the Lord Jesus Christ be with all the saints. Amen. <chapter eID="Rev.22"/> <div canonical="true" eID="g9" osisID="Rev" type="book"/> <div sID="g10" type="glossary"/> Abba is a Chaldee word.',
  '(engWEB2015eb)'}, "\n")

local RV = table.concat({
  'Genesis 1:1: <w savlm="strong:H7225">EN el principio</w> <w savlm="strong:H1254">crió</w> Dios los cielos.',
  'Psalms 3:1: Salmo de David. ¡OH Jehová, cuánto se han multiplicado mis enemigos!',
  'Psalms 3:2: Muchos dicen de mi vida: <transChange type="added">No</transChange> hay para él salud.',
  'Psalms 4:1: RESPÓNDEME cuando clamo.',
  'Ruth 1:1: Y ACONTECIÓ en los días que gobernaban los jueces.',
  'Joel 1:1: Palabra de Jehová.',
  'Revelation of John 22:21: La gracia de nuestro Señor Jesucristo sea con todos vosotros. Amén.',
  'Exodus 1:1: ESTOS son los nombres.',
  '(spaRV1909eb)'}, "\n")

test("clean: markup, Strong's numbers, glued words and the glossary go; text and entities stay", function()
  equal(bible.clean('<w savlm="strong:H0430">God</w><w savlm="strong:H1254">created</w> the earth.'),
    "God created the earth.", "glued <w> elements get a space")
  equal(bible.clean('said, “<w savlm="strong:H1961">Let</w> there be light,”'), "said, “Let there be light,”",
    "quotes stay against their words")
  equal(bible.clean('increased!<l eID="a" level="1"/> <l level="2" sID="b"/>Many'), "increased! Many", "lines")
  equal(bible.clean('<title type="x">Heading</title>Text<note n="a">a note</note> here'), "Text here",
    "headings and notes go with their text")
  equal(bible.clean('a &lt; b &amp; c'), "a < b & c", "entities")
  equal(bible.clean('Amen. <div canonical="true" eID="g" osisID="Rev" type="book"/> glossary'), "Amen.",
    "what follows a book's end")
end)

test("verses: canonical books only, psalm headings on verse 1 only, aligned by reference", function()
  local en, es = bible.verses(WEB), bible.uncap(bible.verses(RV))
  equal(#en, 7, "English verses (Tobit left out)")
  equal(en[1].text, "In the beginning, God created the heavens.", "Genesis 1:1")
  equal(en[2].text, "A Psalm by David. Yahweh, how my adversaries have increased! Many rise up.",
    "the heading starts verse 1")
  equal(en[3].text, "Many there are who say, “There is no help.”", "a repeated heading is not verse 2's")
  equal(en[4].text, "Answer me & hear.", "a heading repeated onto the next psalm is not its own")
  equal(en[7].text, "The grace of the Lord Jesus Christ be with all the saints. Amen.", "no glossary")
  equal(es[1].text, "En el principio crió Dios los cielos.", "chapter capitals: EN -> En")
  equal(es[4].text, "Respóndeme cuando clamo.", "accented capitals")
  equal(es[5].text, "Y aconteció en los días que gobernaban los jueces.", "the second word")
  equal(es[3].text, "Muchos dicen de mi vida: No hay para él salud.", "added words stay")
  local pairs_ = bible.align(en, es)
  equal(#pairs_, 7, "pairs for the references both have (Exodus 1:1 only in Spanish)")
  equal(pairs_[2].ref, "Psalms 3:1", "reference")
  equal(pairs_[2].es, "Salmo de David. ¡OH Jehová, cuánto se han multiplicado mis enemigos!", "its Spanish side")
end)

test("split: validation and test are whole books, disjoint from training", function()
  local pairs_ = bible.align(bible.verses(WEB), bible.uncap(bible.verses(RV)))
  local train, valid, test_ = bible.split(pairs_)
  equal(#train, 5, "training verses")
  equal(valid[1].book, "Joel", "validation")
  equal(test_[1].book, "Ruth", "test")
  local held = {}
  for _, b in ipairs(bible.VALID_BOOKS) do held[b] = "valid" end
  for _, b in ipairs(bible.TEST_BOOKS) do
    check(not held[b], "%s is both validation and test", b)
    held[b] = "test"
  end
  local canon = {}
  for _, b in ipairs(bible.BOOKS) do canon[b] = true end
  for b in pairs(held) do check(canon[b], "%s is a book diatheke names", b) end
  for _, p in ipairs(train) do check(not held[p.book], "%s in training", p.ref) end
  local counts = bible.write(dir, {train = train, valid = valid, test = test_})
  equal(counts.test, 1, "written")
  local back = bible.load(dir)
  equal(back.test[1].ref, "Ruth 1:1", "read back: reference")
  equal(back.test[1].book, "Ruth", "read back: book")
  equal(back.train[1].es, "En el principio crió Dios los cielos.", "read back: text")
end)

test("the registry generates the set; a missing module is one line naming the packages", function()
  local e = loom.data and require("loom.datasets").registry().bible
  equal(e.generator, "bible.lua", "the bible entry names its generator")
  local ok, err = pcall(bible.read_verses, {module = "NoSuchModule", title = "none"})
  local code = process.capture({"diatheke", "-b", "system", "-k", "modulelist"})
  check(not ok, "an error")
  if code then
    equal(err, "bible: the SWORD module NoSuchModule (none) is not installed: apt-get install "
      .. "diatheke sword-text-web sword-text-sparv", "message")
  else
    check(err:find("cannot run diatheke", 1, true) and err:find("apt-get install diatheke", 1, true), "%s", err)
  end
end)

-- A tiny dictd dictionary: headword<TAB>offset<TAB>length in base 64, entries in .dict.
local function tiny_dictionary()
  local entries = {
    {"god", "God /gɔd/\nDios\n"}, {"the", "the /ð/\nel, la, las, lo, los\n"},
    {"the", "the /ðneðəlændz/\nHolanda\n"}, {"create", "create /kriːeit/\n1. crear\n2. causar\n"},
    {"heaven", "heaven /hɛvən/\ncielo\n"}, {"earth", "earth /əːθ/\ntierra, suelo\n"}}
  local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  local function enc(n)
    local s = ""
    repeat
      s = b64:sub(n % 64 + 1, n % 64 + 1) .. s
      n = n // 64
    until n == 0
    return s
  end
  local body, index = {}, {}
  local at = 0
  for _, e in ipairs(entries) do
    index[#index + 1] = e[1] .. "\t" .. enc(at) .. "\t" .. enc(#e[2])
    body[#body + 1] = e[2]
    at = at + #e[2]
  end
  write(dir .. "/tiny.index", table.concat(index, "\n") .. "\n")
  write(dir .. "/tiny.dict", table.concat(body))
  return dir .. "/tiny"
end

test("baseline: word for word with a dictd dictionary, BLEU and chrF on its output", function()
  local words = assert(dictionary.read(tiny_dictionary()))
  equal(words.the, "el", "the word's own entry, not the phrase's")
  equal(words.create, "crear", "the first sense")
  local out = dictionary.translate(words, "In the beginning, God created the heavens and the earth.")
  equal(out, "In el beginning, Dios crear el cielo and el tierra.", "translated word for word")
  equal(dictionary.translate(words, "God’s earth"), "Dios tierra", "a possessive goes")
  local hyps = {out}
  local refs = {{"En el principio crió Dios los cielos y la tierra."}}
  local bleu = loom.metrics.bleu(hyps, refs)
  local chrf = loom.metrics.chrf(hyps, refs)
  check(bleu > 0 and bleu < 30 and chrf > 10 and chrf < 60, "BLEU %.2f, chrF %.2f", bleu, chrf)
  local none, why = dictionary.read(dir .. "/nothing")
  equal(none, nil, "a missing dictionary")
  check(why:find("nothing.index", 1, true), "names the file: %s", why)
  write(dir .. "/broken.index", "word\tBAD!\tB\n")
  write(dir .. "/broken.dict", "x")
  local _, bad = dictionary.read(dir .. "/broken")
  equal(bad, dir .. "/broken.index:1: expected 'headword<TAB>offset<TAB>length' inside the .dict", "a broken index")
  checkerror("loom.dictionary.translate: sentence must be a string, got number", dictionary.translate, words, 3)
end)

test("baseline: the FreeDict English-Spanish dictionary when installed", function()
  local words, err = dictionary.read()
  if not words then skip(err) end
  equal(words.house, "casa", "house")
  equal(dictionary.translate(words, "The house"), "El casa", "capital kept")
end)
