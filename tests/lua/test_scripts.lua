-- test_scripts.lua: the test driver's own consistency: scripts/test.sh selects tests only
-- by labels that some test carries (a filter on a label no test has selects or drops
-- nothing, silently). Not the tests themselves.
local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

test("scripts/test.sh filters ctest only by labels the tests carry", function()
  local labels = {}
  for _, file in ipairs{"tests/CMakeLists.txt", "tests/fuzz/CMakeLists.txt"} do
    local f = io.open(PROJECT_DIR .. "/" .. file)
    if f then
      for list in f:read("a"):gmatch('LABELS%s+"([^"]*)"') do
        for label in list:gmatch("[^;]+") do labels[label] = true end
      end
      f:close()
    end
  end
  check(labels.lua and labels.c, "the lua and c labels were not found in tests/CMakeLists.txt")
  local script = read(PROJECT_DIR .. "/scripts/test.sh")
  local filters = 0
  for line in script:gmatch("[^\n]+") do
    if line:find("ctest", 1, true) then
      for _, label in line:gmatch("%-(LE?)%s+([%w_]+)") do
        filters = filters + 1
        check(labels[label], "scripts/test.sh filters on the label '%s', which no test carries: %s", label, line)
      end
    end
  end
  check(filters >= 1, "no label filter found in scripts/test.sh (the fuzz run uses -L fuzz)")
end)
