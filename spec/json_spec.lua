-- JSON <-> Lua in ei.core: decode, encode without a schema, null, array/object markers;
-- and ei.json, the public door scripts and the command line use.
local core = require "ei.core"
local ei = require "ei"
local helper = require "helper"

local function fails(code, pattern, ...)
  local value, msg, got_code = ...
  assert.is_nil(value)
  assert.equal(code, got_code)
  assert.is_string(msg)
  if pattern then assert.matches(pattern, msg) end
  return msg
end

describe("core.decode", function()
  it("turns objects into tables and arrays into tables marked as arrays", function()
    local v = assert(core.decode('{"a":[1,2,{"b":true}],"s":"x","f":false}'))
    assert.same({ a = { 1, 2, { b = true } }, s = "x", f = false }, v)
    assert.equal(getmetatable(core.decode("[]")), getmetatable(v.a))
    assert.is_not_nil(getmetatable(v.a))
    assert.is_nil(getmetatable(v))
    assert.is_nil(getmetatable(v.a[3]))
  end)

  it("returns the null sentinel for null, also inside arrays and objects", function()
    assert.equal(core.null, core.decode("null"))
    local v = core.decode('{"a":null,"b":[null,1]}')
    assert.equal(core.null, v.a)
    assert.equal(core.null, v.b[1])
    assert.equal(2, #v.b)
  end)

  it("gives job ids such as 12873488112 back as integers", function()
    local v = core.decode('{"id":12873488112,"neg":-12873488112}')
    assert.equal(12873488112, v.id)
    assert.equal("integer", math.type(v.id))
    assert.equal("integer", math.type(v.neg))
    assert.equal("integer", math.type(core.decode("9007199254740991")))
    assert.equal("integer", math.type(core.decode("0")))
  end)

  it("keeps non-integral numbers and numbers from 2^53 on as floats", function()
    assert.equal("float", math.type(core.decode("1.5")))
    assert.equal(1.5, core.decode("1.5"))
    -- cJSON holds numbers as doubles: 2^53 + 1 has already become 2^53
    assert.equal("float", math.type(core.decode("9007199254740993")))
    assert.equal("float", math.type(core.decode("9007199254740992")))
    assert.equal(2^53, core.decode("9007199254740992"))
    assert.equal(-0.25, core.decode("-2.5e-1"))
  end)

  it("decodes string escapes, unicode and surrogate pairs", function()
    assert.equal('a"b\\c/d\n\t\r\b\f', core.decode('"a\\"b\\\\c\\/d\\n\\t\\r\\b\\f"'))
    assert.equal("é€", core.decode('"\\u00e9\\u20ac"'))
    assert.equal("\xF0\x9F\x98\x80", core.decode('"\\ud83d\\ude00"'))
    assert.equal("héllo", core.decode('"héllo"'))
  end)

  it("keeps escaped NULs inside strings and keys", function()
    local s = core.decode('"a\\u0000b"')
    assert.equal("a\0b", s)
    assert.equal(3, #s)
    local v = core.decode('{"k\\u0000ey":"v\\u0000","plain":"x\\ny","other":["\\u0000"]}')
    assert.equal("v\0", v["k\0ey"])
    assert.equal("x\ny", v.plain)
    assert.equal("\0", v.other[1])
  end)

  it("refuses malformed input with EPROTO and the position", function()
    fails("EPROTO", "^malformed JSON at byte 4$", core.decode("[1,]"))
    fails("EPROTO", "^malformed JSON at byte 1$", core.decode("nul"))
    fails("EPROTO", "^malformed JSON at byte 6$", core.decode('{"a" 1}'))
    fails("EPROTO", "malformed JSON", core.decode('"\\q"'))
    fails("EPROTO", "malformed JSON", core.decode('"\\ud800"'))
    fails("EPROTO", "malformed JSON", core.decode("{"))
    fails("EPROTO", "^malformed JSON: empty text$", core.decode(""))
    fails("EPROTO", "^malformed JSON: empty text$", core.decode(" \n\t"))
    fails("EPROTO", "^malformed JSON: unexpected data at byte 3$", core.decode("1 2"))
    fails("EPROTO", "^malformed JSON: unexpected data at byte 4$", core.decode("[1]\0"))
  end)

  it("accepts 1000 levels of nesting and refuses deeper input", function()
    local ok = core.decode(("["):rep(1000) .. ("]"):rep(1000))
    assert.is_table(ok)
    fails("EPROTO", "^malformed JSON: nested deeper than 1000 levels$",
      core.decode(("["):rep(1001) .. ("]"):rep(1001)))
    fails("EPROTO", "nested deeper than 1000 levels", core.decode(('{"a":'):rep(5000)))
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() core.decode({}) end)
    assert.has_error(function() core.decode() end)
  end)

  it("decodes a large array", function()
    local parts = {}
    for i = 1, 100000 do parts[i] = tostring(i) end
    local v = assert(core.decode("[" .. table.concat(parts, ",") .. "]"))
    assert.equal(100000, #v)
    assert.equal(100000, v[100000])
  end)
end)

describe("core.encode without a schema", function()
  it("writes sequences as arrays and other tables as objects with sorted keys", function()
    assert.equal("[1,2,3]", core.encode({ 1, 2, 3 }))
    assert.equal('{"a":2,"b":1,"c":{"d":[true,false]}}', core.encode({ b = 1, a = 2, c = { d = { true, false } } }))
    assert.equal('"x"', core.encode("x"))
    assert.equal("true", core.encode(true))
  end)

  it("writes an empty table as {} unless it is marked as an array", function()
    assert.equal("{}", core.encode({}))
    assert.equal("[]", core.encode(core.array({})))
    assert.equal("[]", core.encode(core.array()))
    assert.equal("[]", core.encode(core.decode("[]")))
    assert.equal("{}", core.encode(core.decode("{}")))
    assert.equal('{"a":[],"b":{}}', core.encode(core.decode('{"a":[],"b":{}}')))
  end)

  it("returns the table it marks", function()
    local t = {}
    assert.equal(t, core.array(t))
    assert.equal(t, core.object(t))
    assert.has_error(function() core.array("x") end)
  end)

  it("writes a table marked as an object as an object, and refuses non-string keys in it", function()
    assert.equal("{}", core.encode(core.object({})))
    assert.equal('{"a":1}', core.encode(core.object({ a = 1 })))
    fails("EINVAL", "^value%[1%]: unexpected key 1 %(object keys must be strings%)$",
      core.encode({ core.object({ "x" }) }))
  end)

  it("writes null for the sentinel", function()
    assert.equal("null", core.encode(core.null))
    assert.equal('{"a":null}', core.encode({ a = core.null }))
    assert.equal("[null,1]", core.encode({ core.null, 1 }))
  end)

  it("writes integers exactly, including beyond 2^53", function()
    assert.equal("12873488112", core.encode(12873488112))
    assert.equal("9007199254740992", core.encode(math.tointeger(2^53)))
    assert.equal("9007199254740993", core.encode(math.tointeger(2^53) + 1))
    assert.equal("9223372036854775807", core.encode(math.maxinteger))
    assert.equal("-9223372036854775808", core.encode(math.mininteger))
    assert.equal("[12873488112]", core.encode(core.decode("[12873488112]")))
  end)

  it("writes the shortest text that reads back as the same float", function()
    assert.equal("0.1", core.encode(0.1))
    assert.equal("0.005", core.encode(0.005))
    assert.equal("0.30000000000000004", core.encode(0.1 + 0.2))
    assert.equal("0.3333333333333333", core.encode(1 / 3))
    assert.equal("-2.5", core.encode(-2.5))
    assert.equal("5e-324", core.encode(5e-324))
    assert.equal("1e+300", core.encode(1e300))
    assert.equal("3", core.encode(3.0))
    for _, x in ipairs { 0.1, 1 / 3, 2 / 3, 1e-300, 5e-324, 1.7976931348623157e308, 123456.789,
      -0.000123, 2^-1074, 1e21, 1e-7, 0.1 + 0.2, 9007199254740993.0, math.pi, -math.pi * 1e100 } do
      local text = core.encode(x)
      assert.equal(x, core.decode(text), text)
      assert.is_true(#text <= 24)
    end
  end)

  it("refuses NaN and infinities", function()
    fails("EINVAL", "^value: expected finite number, got nan$", core.encode(0 / 0))
    fails("EINVAL", "^value: expected finite number, got inf$", core.encode(math.huge))
    fails("EINVAL", "^x%[2%]: expected finite number, got %-inf$", core.encode({ x = { 1, -math.huge } }))
  end)

  it("escapes strings and keeps NULs and UTF-8", function()
    assert.equal('"a\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/"', core.encode('a"b\\c\n\t\r\b\f\1\31/'))
    assert.equal('"a\\u0000b"', core.encode("a\0b"))
    assert.equal('"héllo €"', core.encode("héllo €"))
    assert.equal("a\0b", core.decode(core.encode("a\0b")))
  end)

  it("refuses invalid UTF-8 and names where it is", function()
    fails("EINVAL", "^value: invalid UTF%-8 at byte 2$", core.encode("a\xffb"))
    fails("EINVAL", "^k: invalid UTF%-8 at byte 1$", core.encode({ k = "\xc0\xaf" }))      -- overlong
    fails("EINVAL", "^k: invalid UTF%-8 at byte 1$", core.encode({ k = "\xed\xa0\x80" }))  -- surrogate
    fails("EINVAL", "^k: invalid UTF%-8 at byte 2$", core.encode({ k = "x\xe2\x82" }))     -- cut short
    fails("EINVAL", "^k: invalid UTF%-8 at byte 1$", core.encode({ k = "\xf4\x90\x80\x80" })) -- > U+10FFFF
    fails("EINVAL", '^%["a\\255"%]: invalid UTF%-8 at byte 2 of the key$', core.encode({ ["a\xff"] = 1 }))
  end)

  it("refuses mixed and sparse tables and values JSON cannot hold", function()
    fails("EINVAL", "^value: unexpected key 1 %(object keys must be strings%)$", core.encode({ 1, 2, x = 3 }))
    fails("EINVAL", "unexpected key 1", core.encode({ [1] = "a", [3] = "c" }))
    fails("EINVAL", "^f: expected a JSON value, got function$", core.encode({ f = print }))
    fails("EINVAL", "^value%[1%]: expected a JSON value, got userdata$", core.encode({ io.stdout }))
    fails("EINVAL", "^value: expected array, got table with nil at index 2$",
      core.encode(core.array({ [1] = 1, [3] = 3 })))
  end)

  it("refuses cyclic tables instead of overflowing the stack", function()
    local t = { a = {} }
    t.a.back = t
    fails("EINVAL", "^a%.back: table contains itself %(cycle%)$", core.encode(t))
    local list = {}
    list[1] = list
    fails("EINVAL", "cycle", core.encode(list))
  end)

  it("accepts a table used twice that is not its own ancestor", function()
    local shared = { 1 }
    assert.equal('{"a":[1],"b":[1]}', core.encode({ a = shared, b = shared }))
  end)

  it("limits nesting to 64 levels", function()
    local function nest(n)
      local root = {}
      local cur = root
      for _ = 1, n do
        cur.a = {}
        cur = cur.a
      end
      return root
    end
    assert.is_string(core.encode(nest(64)))
    local msg = fails("EINVAL", ": nested deeper than 64 levels$", core.encode(nest(65)))
    assert.equal(("a."):rep(64):sub(1, -2) .. ": nested deeper than 64 levels", msg)
  end)

  it("round-trips nested values", function()
    local v = { name = "x", list = { 1, 2.5, "three", { four = 4 } }, empty = core.array(), obj = {}, n = core.null }
    local back = core.decode(core.encode(v))
    assert.same({ name = "x", list = { 1, 2.5, "three", { four = 4 } }, empty = {}, obj = {}, n = core.null }, back)
    assert.equal(core.encode(v), core.encode(back))
  end)

  it("encodes huge tables", function()
    local arr, map = {}, {}
    for i = 1, 100000 do
      arr[i] = i * 0.5
      map["k" .. i] = i
    end
    local a = core.decode(assert(core.encode(arr)))
    assert.equal(100000, #a)
    assert.equal(50000, a[100000])
    local m = core.decode(assert(core.encode(map)))
    assert.equal(100000, m.k100000)
    assert.equal(1, m.k1)
  end)

  it("raises without a value and for an unknown schema", function()
    assert.has_error(function() core.encode() end)
    assert.has_error(function() core.encode({}, "NoSuchSchema") end, nil)
  end)
end)

describe("ei.json", function()
  it("round-trips nested tables, strings, booleans and numbers", function()
    local v = { name = "run 1", ok = true, off = false, rate = 0.005, layers = { { type = "dense", neurons = 20 }, { type = "dropout", dropoutRate = 0.25 } },
      text = "a\"b\\c\n\0é" }
    local text = assert(ei.json.encode(v))
    assert.equal('{"layers":[{"neurons":20,"type":"dense"},{"dropoutRate":0.25,"type":"dropout"}],"name":"run 1","off":false,"ok":true,'
      .. '"rate":0.005,"text":"a\\"b\\\\c\\n\\u0000é"}', text)
    assert.same(v, assert(ei.json.decode(text)))
  end)

  it("reads and writes null as ei.null, which is ei.json.null", function()
    assert.equal(ei.null, ei.json.null)
    local v = assert(ei.json.decode('{"a":null,"b":[1,null]}'))
    assert.equal(ei.null, v.a)
    assert.equal(ei.null, v.b[2])
    assert.equal('{"a":null,"b":[1,null]}', ei.json.encode(v))
    assert.equal("null", ei.json.encode(ei.json.null))
  end)

  it("keeps whole numbers up to 2^53 integers both ways, and 2^53 on a float", function()
    for _, n in ipairs { 0, -1, 12873488112, 2 ^ 53 // 1 - 1, -(2 ^ 53 // 1 - 1) } do
      local back = ei.json.decode(ei.json.encode(n))
      assert.equal("integer", math.type(back), tostring(n))
      assert.equal(n, back)
    end
    assert.equal("9007199254740991", ei.json.encode(9007199254740991))
    assert.equal("float", math.type(ei.json.decode("9007199254740992")))
  end)

  it("returns nil, a message and EINVAL for what it cannot read or write", function()
    local v, msg, code = ei.json.decode('{"a" 1}')
    assert.is_nil(v)
    assert.equal("malformed JSON at byte 6", msg)
    assert.equal("EINVAL", code)
    v, msg, code = ei.json.decode("")
    assert.is_nil(v)
    assert.equal("malformed JSON: empty text", msg)
    assert.equal("EINVAL", code)
    v, msg, code = ei.json.encode({ rate = 0 / 0 })
    assert.is_nil(v)
    assert.equal("rate: expected finite number, got nan", msg)
    assert.equal("EINVAL", code)
    v, msg = ei.json.encode({ f = print })
    assert.is_nil(v)
    assert.equal("f: expected a JSON value, got function", msg)
  end)

  it("raises on a missing or non-string argument", function()
    assert.has_error(function() ei.json.encode() end, "bad argument #1 to 'encode' (value expected)")
    local v, msg, code = ei.json.encode(nil)
    assert.is_nil(v)
    assert.equal("value: expected a JSON value, got nil", msg)
    assert.equal("EINVAL", code)
    assert.has_error(function() ei.json.decode() end, "bad argument #1 to 'decode' (string expected, got nil)")
    assert.has_error(function() ei.json.decode(12) end, "bad argument #1 to 'decode' (string expected, got number)")
  end)

  it("is what the command line uses: no JSON through ei.core in lua/ei/cli*", function()
    local p = assert(io.popen(("cd %s && ls lua/ei/cli.lua lua/ei/cli/*.lua"):format(helper.quote(helper.root))))
    local files = 0
    for path in p:lines() do
      files = files + 1
      local text = assert(helper.read_file(helper.root .. "/" .. path))
      assert.is_nil(text:find("core%.encode"), path)
      assert.is_nil(text:find("core%.decode"), path)
    end
    p:close()
    assert.is_true(files >= 5)
  end)
end)
