-- loom.runs.where: the `--where` filter language: comparisons `name op number` joined by
-- and/or with parentheses, compiled to SQL whose every value is a bound parameter. Not a
-- general query language: no strings, no arithmetic, and user text never reaches the SQL.
local where = {}

-- Operators and the SQL each becomes (the SQL is always one of these fixed strings).
local OPS = {["<"] = "<", ["<="] = "<=", [">"] = ">", [">="] = ">=", ["="] = "=", ["=="] = "=",
  ["!="] = "<>", ["~="] = "<>"}

-- Tokens: {kind = "name"|"number"|"op"|"and"|"or"|"("|")", text =, col =}.
local function tokenize(text)
  local tokens, i = {}, 1
  while i <= #text do
    local c = text:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == "(" or c == ")" then
      tokens[#tokens + 1] = {kind = c, text = c, col = i}
      i = i + 1
    else
      local op = text:match("^[<>=!~]=?", i)
      local num = text:match("^[%+%-]?%d+%.?%d*[eE][%+%-]?%d+", i) or text:match("^[%+%-]?%d+%.?%d*", i)
        or text:match("^[%+%-]?%.%d+[eE][%+%-]?%d+", i) or text:match("^[%+%-]?%.%d+", i)
      local name = text:match("^[%a_][%w_%.]*", i)
      if op and OPS[op] then
        tokens[#tokens + 1] = {kind = "op", text = op, col = i}
        i = i + #op
      elseif num then
        tokens[#tokens + 1] = {kind = "number", text = num, col = i, value = tonumber(num)}
        i = i + #num
      elseif name then
        local lower = name:lower()
        local kind = (lower == "and" or lower == "or") and lower or "name"
        tokens[#tokens + 1] = {kind = kind, text = name, col = i}
        i = i + #name
      else
        return nil, string.format("unexpected '%s' at column %d", c, i)
      end
    end
  end
  tokens[#tokens + 1] = {kind = "end", text = "the end", col = #text + 1}
  return tokens
end

-- One comparison as SQL over the runs table: a result of that name if the run has one,
-- else a param; "result." or "param." in front of the name says which.
local function comparison(name, op, value, args)
  local kind, bare = name:match("^(result)%.(.+)$")
  if not kind then kind, bare = name:match("^(param)%.(.+)$") end
  bare = bare or name
  local sql_op = OPS[op]
  local in_results = "id IN (SELECT run_id FROM results WHERE name = ? AND type = 'number' AND value "
    .. sql_op .. " ?)"
  local in_params = "id IN (SELECT run_id FROM params WHERE name = ? AND type = 'number' AND value "
    .. sql_op .. " ?)"
  if kind == "result" then
    table.move({bare, value}, 1, 2, #args + 1, args)
    return in_results
  elseif kind == "param" then
    table.move({bare, value}, 1, 2, #args + 1, args)
    return in_params
  end
  table.move({bare, value, bare, bare, value}, 1, 5, #args + 1, args)
  return "(" .. in_results .. " OR (id NOT IN (SELECT run_id FROM results WHERE name = ?) AND "
    .. in_params .. "))"
end

-- where.compile(text) -> {sql = "...", args = {...}} | nil, message
-- expr := term {or term}; term := factor {and factor}; factor := ( expr ) | name op number
function where.compile(text)
  local tokens, err = tokenize(text)
  if not tokens then return nil, err end
  local pos, args = 1, {}
  local function peek() return tokens[pos] end
  local function take() pos = pos + 1; return tokens[pos - 1] end
  local function expected(what, t)
    error({message = string.format("expected %s at column %d, got '%s'", what, t.col, t.text)})
  end
  local expr
  local function factor()
    local t = take()
    if t.kind == "(" then
      local inner = expr()
      if peek().kind ~= ")" then expected("')'", peek()) end
      take()
      return "(" .. inner .. ")"
    end
    if t.kind ~= "name" then expected("a name", t) end
    local op = take()
    if op.kind ~= "op" then expected("a comparison (< <= > >= = !=) after '" .. t.text .. "'", op) end
    local num = take()
    if num.kind ~= "number" then expected("a number after '" .. op.text .. "'", num) end
    return comparison(t.text, op.text, num.value, args)
  end
  local function joined(sub, word)
    local parts = {sub()}
    while peek().kind == word do
      take()
      parts[#parts + 1] = sub()
    end
    return #parts == 1 and parts[1] or ("(" .. table.concat(parts, " " .. word:upper() .. " ") .. ")")
  end
  local function term() return joined(factor, "and") end
  expr = function() return joined(term, "or") end
  local ok, sql = pcall(function()
    local e = expr()
    if peek().kind ~= "end" then expected("'and', 'or' or the end", peek()) end
    return e
  end)
  if not ok then
    if type(sql) == "table" then return nil, sql.message end
    error(sql, 0)
  end
  return {sql = sql, args = args}
end

return where
