-- test_csv.lua: loom.read_csv from Lua: the shared datasets, options, and the nil, message
-- results of expected failures. The parser's corner cases are in tests/c/check_csv.c.
local loom = require "loom"

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")

local function write(name, text)
  local path = tmp .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

test("mtcars with row names", function()
  local X, names, rownames = loom.read_csv(data_dir("regression") .. "/mtcars.csv", {rownames = true})
  check(X, "read: %s", tostring(names))
  local r, c = X:shape()
  check(r == 32 and c == 11, "mtcars is 32x11, got %dx%d", r, c)
  equal(#names, 11, "column names")
  equal(names[1], "mpg", "first name (the row-name column's header is dropped)")
  equal(names[11], "carb", "last name")
  equal(#rownames, 32, "row names")
  equal(rownames[1], "Mazda RX4", "first row name")
  equal(rownames[32], "Volvo 142E", "last row name")
  equal(X:get(1, 1), 21, "mpg of the Mazda RX4")
  equal(X:get(1, 6), 2.62, "wt of the Mazda RX4")
  close(X:mean(1):get(1, 1), 20.090625, 1e-15, "mean mpg")
  close(X:sum(), 13942.202, 1e-14, "sum of all values")
end)

test("digits.csv.gz without a header", function()
  local X, names, rownames = loom.read_csv(data_dir("digits") .. "/digits.csv.gz", {header = false})
  check(X, "read: %s", tostring(names))
  local r, c = X:shape()
  check(r == 1797 and c == 65, "digits is 1797x65, got %dx%d", r, c)
  check(names == nil and rownames == nil, "no names")
  equal(X:col(65):sum(), 8070, "sum of the labels")
  equal(X:sum(), 569788, "sum of everything")
  equal(X:get(1797, 65), 8, "last label")
  equal(X:max(), 16, "pixel values are 0..16")
end)

test("options and defaults", function()
  local path = write("a.csv", 'x,"y, quoted"\n1,2\n3,4\n')
  local X, names = loom.read_csv(path)
  equal(X:rows(), 2, "header by default")
  equal(names[2], "y, quoted", "quoted name")
  X = loom.read_csv(write("b.csv", "1;2\r\n3;4\r\n"), {header = false, sep = ";"})
  equal(X:get(2, 2), 4, "sep and CRLF")
  local E, enames = loom.read_csv(write("e.csv", "a,b\n"))
  check(E:rows() == 0 and E:cols() == 0 and #enames == 2, "header only")
  checkerror('loom.read_csv: sep must be one character, got ";;"', loom.read_csv, path, {sep = ";;"})
  checkerror("loom.read_csv: options must be a table, got number", loom.read_csv, path, 3)
  checkerror_like("(string expected, got no value)", loom.read_csv)
end)

test("expected failures return nil and path:line:field: message", function()
  local function fails(text, opts, want)
    local path = write("bad.csv", text)
    local X, err = loom.read_csv(path, opts)
    equal(X, nil, "no matrix for " .. want)
    equal(err, path .. ":" .. want, "message")
  end
  fails("a,b\n1,2\n3,x\n", nil, '3:2: expected number, got "x"')
  fails("1,2\n3,4,5\n", {header = false}, "2:3: expected 2 fields, got 3")
  fails('a,b\n1,"2\n', nil, "2:2: unterminated quoted field")
  fails("a,b,c\n1,2\n", nil, "1:3: header has 3 names but rows have 2 fields")
  fails("1,,2\n", {header = false}, "1:2: expected number, got an empty field")
  local missing = tmp .. "/missing.csv"
  local X, err = loom.read_csv(missing)
  equal(X, nil, "missing file")
  equal(err, missing .. ": cannot open: No such file or directory", "missing file message")
end)

-- The bytes of `text` gzip-compressed (by the gzip tool, as a user's file would be).
local function gzip_bytes(name, text)
  local path = write(name, text)
  assert(os.execute("gzip -n -f '" .. path .. "'"))
  local f = assert(io.open(path .. ".gz", "rb"))
  local bytes = f:read("a")
  f:close()
  return bytes
end

test("a truncated .csv.gz is an error naming the file, never fewer rows (issue 13, item 2)", function()
  local lines = {"i,square"}
  for i = 1, 20000 do lines[#lines + 1] = i .. "," .. i * i end
  local gz = gzip_bytes("t.csv", table.concat(lines, "\n") .. "\n")
  local whole = write("whole.csv.gz", gz)
  equal(loom.read_csv(whole):rows(), 20000, "the whole file")
  -- half the file (its last line torn), and the file without its 8-byte CRC trailer
  for _, cut in ipairs{#gz // 2, #gz - 8, #gz - 1} do
    local path = write("cut.csv.gz", gz:sub(1, cut))
    local X, err = loom.read_csv(path)
    equal(X, nil, "no matrix for a file cut at " .. cut)
    equal(err, path .. ": the gzip stream is truncated (unexpected end of file): the file is incomplete",
      "message at " .. cut)
  end
  -- a corrupt CRC
  local bad = gz:sub(1, #gz - 8) .. string.char((gz:byte(#gz - 7) ~ 0x5a)) .. gz:sub(#gz - 6)
  local path = write("crc.csv.gz", bad)
  local X, err = loom.read_csv(path)
  equal(X, nil, "no matrix for a bad CRC")
  equal(err, path .. ": gzip error: incorrect data check", "CRC message")
end)

test("max_bytes caps the decompressed text; a BOM is not part of a name", function()
  local gz = write("z.csv.gz", gzip_bytes("z.csv", "a\n" .. string.rep("0\n", 100000)))
  local X, err = loom.read_csv(gz, {max_bytes = 5000})
  equal(X, nil, "capped")
  equal(err, gz .. ": the text is longer than max_bytes = 5000 (decompressed); pass a larger max_bytes to read it",
    "cap message")
  equal(loom.read_csv(gz, {max_bytes = 1 << 20}):rows(), 100000, "a larger cap reads it")
  checkerror("loom.read_csv: max_bytes must be >= 1, got 0", loom.read_csv, gz, {max_bytes = 0})
  checkerror("loom.read_csv: max_bytes must be an integer, got string", loom.read_csv, gz, {max_bytes = "1"})
  local _, names = loom.read_csv(write("bom.csv", "\xEF\xBB\xBFx,y\n1,2\n"))
  equal(names[1], "x", "the byte order mark is skipped")
end)

test("a read allocates one block per matrix and leaks nothing", function()
  collectgarbage(); collectgarbage()
  local live = loom.alloc_stats().live_blocks
  do
    local X <close> = loom.read_csv(data_dir("regression") .. "/mtcars.csv", {rownames = true})
    equal(loom.alloc_stats().live_blocks, live + 1, "only the matrix stays")
  end
  loom.read_csv(write("bad2.csv", "a\nx\n"))
  equal(loom.alloc_stats().live_blocks, live, "after close and after a failure")
end)

os.execute("rm -rf '" .. tmp .. "'")
