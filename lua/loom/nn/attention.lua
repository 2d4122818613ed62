-- loom.nn.attention: the nn.Attention constructor over the C module (src/bind/attention.c)
-- and the module behaviour it shares with the rest of nn. Not a decoder (loom.seq2seq).
-- Usage from lua/loom/nn/init.lua: require("loom.nn.attention")(nn)
local core = require "loom.core"
local check = require "loom.check"
local cattn = core.attention

local KINDS = {dot = true, general = true, concat = true, bahdanau = true}

local function check_size(n, what)
  return check.integer("nn.Attention", what, n, 1)
end

return function(nn)
  local mt = cattn.metatable
  local methods = mt.methods
  local Module = nn.Module
  methods.num_parameters = Module.num_parameters
  methods.state_dict = Module.state_dict
  methods.load_state_dict = Module.load_state_dict
  function methods.repr(m)
    local c = m:config()
    if c.score == "dot" then return string.format("Attention('dot', %d)", c.query_size) end
    if c.score == "general" then return string.format("Attention('general', %d, %d)", c.query_size, c.key_size) end
    return string.format("Attention('%s', %d, %d, %d)", c.score, c.query_size, c.key_size, c.attn_size)
  end
  mt.__tostring = Module.__tostring

  -- nn.Attention("dot", H) | ("general", Hq [, Hk = Hq]) | ("concat" | "bahdanau", Hq [, Hk = Hq [, A = Hk]])
  function nn.Attention(kind, query_size, key_size, attn_size)
    if not KINDS[kind] then
      check.fail("nn.Attention", "kind must be one of dot, general, concat, bahdanau, got %s",
        type(kind) == "string" and kind or check.shown(kind))
    end
    query_size = check_size(query_size, "query size")
    key_size = check_size(key_size == nil and query_size or key_size, "key size")
    if kind == "dot" and key_size ~= query_size then
      check.fail("nn.Attention", "dot scores need equal query and key sizes, got %d and %d", query_size, key_size)
    end
    attn_size = check_size(attn_size == nil and key_size or attn_size, "attention size")
    return check.call("nn.Attention", cattn.new, kind, query_size, key_size, attn_size)
  end
  nn.is_attention = cattn.is_attention
  return nn
end
