#!/usr/bin/env lua5.4
--- Generate src/gen/spec.c, the schema and operation tables of ei.core, and
-- types/ei-schemas.lua, LuaLS annotations of the request schemas the Lua API takes,
-- from the official Edge Impulse Studio OpenAPI document.
--
-- Usage: lua5.4 tools/gen-spec.lua [--check] [SPEC_DIR]
--
-- SPEC_DIR (default ../shared/spec, relative to the repository root) holds
-- edge-impulse-studio-openapi.yml and optional newer single-schema fragments named
-- edge-impulse-studio-openapi.<date>.<SchemaName>.fragment.yml; for each schema the
-- newest fragment replaces the main document's definition.
-- With --check nothing is written: the exit status is 1 when a committed file
-- differs from what would be generated.
--
-- Rules (see tools/README.md): nullable, format: binary (raw bytes, not UTF-8), allOf merged into one object, oneOf and
-- anyOf both validated as anyOf, discriminators used to pick a branch, enum,
-- required, items, additionalProperties (a schema or `true` makes an explicit map;
-- absent on an object with properties makes it closed; absent on an object without
-- properties makes a free-form object), minimum/maximum, minItems/maxItems,
-- deprecated (`deprecated: true` or a description starting with "DEPRECATED").
-- Anything else the generator does not understand stops it with an error rather
-- than being dropped silently.

local lyaml = require "lyaml"

-- The C side binary-searches in byte order; string comparison here follows the
-- collation locale, so pin it.
os.setlocale("C", "collate")

local MAIN = "edge-impulse-studio-openapi.yml"
local OUTPUT = "src/gen/spec.c"
local LUALS_OUTPUT = "types/ei-schemas.lua"
-- The schemas the LuaLS annotations start from (and all they reference): the
-- request bodies the Lua API's own methods take.
local LUALS_ROOTS = { "SetKerasParameterRequest" }

-- Schemas the document references without defining. Each entry says where its
-- definition comes from; a definition in the document itself always wins.
local SUPPLEMENTS = {
	-- Referenced by the 2026-09-06 SetKerasParameterRequest fragment (trainingProcessor)
	-- but absent from the February 2026 document. The fragment's header and
	-- spec/README.md give it as a string enum of cpu and gpu (npm edge-impulse-api
	-- 1.95.13, experimentalImpulseSpecificGpuTrainingProcessor.d.ts).
	ExperimentalImpulseSpecificGpuTrainingProcessor = {
		type = "string",
		enum = { "cpu", "gpu" },
		description = "EXPERIMENTAL. Training processor (supplied by tools/gen-spec.lua).",
	},
}

-- oneOf is validated as anyOf: a value matching several branches is accepted. The
-- document needs this: BlockParameters is a oneOf of two open objects whose fields
-- are all optional, so under strict oneOf every value would match both and be
-- rejected (spec/README.md). Entries keep a flag saying they were declared oneOf.

local SCHEMA_KEYWORDS = {
	type = true, description = true, example = true, format = true, title = true,
	default = true, ["$ref"] = true, properties = true, required = true, items = true,
	additionalProperties = true, nullable = true, enum = true, allOf = true,
	oneOf = true, anyOf = true, discriminator = true, deprecated = true,
	minimum = true, maximum = true, minItems = true, maxItems = true,
	readOnly = true, writeOnly = true,
}

local KIND = { any = 0, boolean = 1, integer = 2, number = 3, string = 4, array = 5, object = 6, union = 7 }
local S_NULLABLE, S_ONEOF, S_BINARY = 1, 2, 4
local P_REQUIRED, P_DEPRECATED, P_PATH = 1, 2, 4
local OP_BODY_REQUIRED, OP_BODY_JSON, OP_DEPRECATED = 1, 2, 4
local METHODS = { get = 0, post = 1, put = 2, delete = 3, patch = 4, head = 5, options = 6 }
local NONE = 0xFFFF

local function fail(fmt, ...)
	io.stderr:write("gen-spec: ", string.format(fmt, ...), "\n")
	os.exit(2)
end

local function sorted_keys(t)
	local keys = {}
	for k in pairs(t) do
		if type(k) ~= "string" then fail("non-string key %s", tostring(k)) end
		keys[#keys + 1] = k
	end
	table.sort(keys)
	return keys
end

local function read(path)
	local f, err = io.open(path, "rb")
	if not f then fail("%s", err) end
	local s = f:read("a")
	f:close()
	return s
end

-- FNV-1a 64 of the inputs, so the generated file names exactly what it came from.
local function fnv1a64(s)
	local h = -3750763034362895579 -- 0xcbf29ce484222325
	for i = 1, #s do
		h = (h ~ s:byte(i)) * 0x100000001b3
	end
	return string.format("%016x", h)
end

------------------------------------------------------------------------------
-- Inputs

local function repo_root()
	local script = arg and arg[0] or "tools/gen-spec.lua"
	local dir = script:match("^(.*)/[^/]*$") or "."
	return dir .. "/.."
end

local function list_fragments(dir)
	local found = {}
	local p = io.popen("ls -1 -- '" .. dir:gsub("'", "'\\''") .. "'")
	for name in p:lines() do
		local date, schema = name:match("^edge%-impulse%-studio%-openapi%.([%d%-]+)%.([%w_]+)%.fragment%.yml$")
		if date then
			local cur = found[schema]
			if not cur or date > cur.date then found[schema] = { date = date, file = name } end
		end
	end
	p:close()
	return found
end

local function load_inputs(dir)
	local text = read(dir .. "/" .. MAIN)
	local doc = lyaml.load(text)
	if type(doc) ~= "table" or not doc.components or not doc.paths then fail("%s: not an OpenAPI document", MAIN) end
	local sources = { { file = MAIN, text = text } }
	local fragments = list_fragments(dir)
	for _, schema in ipairs(sorted_keys(fragments)) do
		local file = fragments[schema].file
		local ftext = read(dir .. "/" .. file)
		local frag = lyaml.load(ftext)
		if type(frag) ~= "table" or type(frag[schema]) ~= "table" then fail("%s: does not define %s", file, schema) end
		doc.components.schemas[schema] = frag[schema]
		sources[#sources + 1] = { file = file, text = ftext }
	end
	local supplied = {}
	for _, name in ipairs(sorted_keys(SUPPLEMENTS)) do
		if doc.components.schemas[name] == nil then
			doc.components.schemas[name] = SUPPLEMENTS[name]
			supplied[#supplied + 1] = name
		end
	end
	return doc, sources, supplied
end

------------------------------------------------------------------------------
-- Schema compilation: every schema becomes one entry; named ones keep their own
-- entry, anonymous ones are shared when identical.

local Compiler = {}
Compiler.__index = Compiler

local function new_compiler(doc)
	local self = setmetatable({
		doc = doc,
		schemas = doc.components.schemas,
		entries = {}, -- index (0-based) -> entry
		named = {}, -- name -> index
		anon = {}, -- key -> index
		building = {},
		dropped = {}, -- notes about required names without a property
		n = 0,
	}, Compiler)
	self:add({ kind = KIND.any, flags = 0 }) -- index 0: any value
	for _, name in ipairs(sorted_keys(self.schemas)) do
		self.named[name] = self.n
		self.n = self.n + 1
	end
	return self
end

function Compiler:add(entry)
	local i = self.n
	self.entries[i] = entry
	self.n = i + 1
	return i
end

local function refname(ref)
	local name = ref:match("^#/components/schemas/(.+)$")
	if not name then fail("unsupported $ref %s", ref) end
	return name
end

function Compiler:target(ref)
	local name = refname(ref)
	local node = self.schemas[name]
	if node == nil then fail("$ref to undefined schema %s", name) end
	return node, name
end

local function is_deprecated(node)
	return node.deprecated == true
		or (type(node.description) == "string" and node.description:match("^%s*DEPRECATED") ~= nil)
end

local function check_keywords(node, where)
	for k in pairs(node) do
		if not SCHEMA_KEYWORDS[k] and not (type(k) == "string" and k:match("^x%-")) then
			fail("%s: unsupported schema keyword %q", where, tostring(k))
		end
	end
end

local DOC_ONLY = { description = true, example = true, title = true }

-- Equal as schemas: documentation keywords do not count.
local function same_schema(a, b)
	if type(a) ~= "table" or type(b) ~= "table" then return a == b end
	for k, v in pairs(a) do
		if not DOC_ONLY[k] and not same_schema(v, b[k]) then return false end
	end
	for k in pairs(b) do
		if not DOC_ONLY[k] and a[k] == nil then return false end
	end
	return true
end

-- Merge allOf parts (and the node's own object keywords) into one object node.
function Compiler:merge_allof(node, where)
	local merged = { type = "object", properties = {}, required = {}, nullable = node.nullable,
		description = node.description, deprecated = node.deprecated }
	local seen_req = {}
	local function take(part, pwhere)
		if part["$ref"] then part = self:target(part["$ref"]) end
		if part.allOf then part = self:merge_allof(part, pwhere) end
		check_keywords(part, pwhere)
		if part.oneOf or part.anyOf then fail("%s: allOf part with oneOf/anyOf is not supported", pwhere) end
		if part.type and part.type ~= "object" then fail("%s: allOf part of type %s", pwhere, part.type) end
		for _, k in ipairs(sorted_keys(part.properties or {})) do
			local prev = merged.properties[k]
			if prev ~= nil and not same_schema(prev, part.properties[k]) then
				fail("%s: allOf parts define %s differently", pwhere, k)
			end
			merged.properties[k] = part.properties[k]
		end
		for _, r in ipairs(part.required or {}) do
			if not seen_req[r] then
				seen_req[r] = true
				merged.required[#merged.required + 1] = r
			end
		end
		if part.additionalProperties ~= nil then merged.additionalProperties = part.additionalProperties end
	end
	for i, part in ipairs(node.allOf) do take(part, where .. ".allOf[" .. i .. "]") end
	take({ properties = node.properties, required = node.required,
		additionalProperties = node.additionalProperties }, where)
	return merged
end

-- Compile a schema node; returns its entry index.
function Compiler:compile(node, where)
	if type(node) ~= "table" then fail("%s: schema is not a table", where) end
	check_keywords(node, where)
	if node["$ref"] then
		local target, name = self:target(node["$ref"])
		if node.type ~= nil and target.type ~= nil and node.type ~= target.type then
			fail("%s: type %s beside $ref to %s", where, node.type, name)
		end
		if node.nullable and not target.nullable then
			local copy = {}
			for k, v in pairs(target) do copy[k] = v end
			copy.nullable = true
			return self:compile(copy, where)
		end
		return self:compile_named(name)
	end
	return self:intern(self:build(node, where))
end

function Compiler:compile_named(name)
	local i = self.named[name]
	if self.entries[i] == nil and not self.building[name] then
		self.building[name] = true
		local node = self.schemas[name]
		if node["$ref"] and not node.nullable then
			-- an alias: share the target's entry
			local target = refname(node["$ref"])
			local j = self:compile_named(target)
			if self.entries[j] == nil then fail("%s: circular alias", name) end
			self.entries[i] = self.entries[j]
		else
			self.entries[i] = self:build(node, name)
		end
		self.building[name] = nil
	end
	return i
end

local function entry_key(e)
	local parts = { e.kind, e.flags, e.nreq or 0, e.extra_key or "", e.min or "", e.max or "" }
	for _, p in ipairs(e.props or {}) do parts[#parts + 1] = p.name .. "=" .. p.schema .. "/" .. p.flags end
	for _, v in ipairs(e.enum or {}) do parts[#parts + 1] = "e:" .. v end
	for _, b in ipairs(e.branches or {}) do parts[#parts + 1] = "b:" .. b.schema .. "/" .. (b.tag or "") end
	if e.items then parts[#parts + 1] = "i:" .. e.items end
	if e.additional then parts[#parts + 1] = "a:" .. e.additional end
	if e.disc then parts[#parts + 1] = "d:" .. e.disc end
	return table.concat(parts, "\0")
end

function Compiler:intern(e)
	local key = entry_key(e)
	local i = self.anon[key]
	if i == nil then
		i = self:add(e)
		self.anon[key] = i
	end
	return i
end

local function kind_of(node)
	if node.type ~= nil then
		local k = KIND[node.type]
		if k == nil or node.type == "any" or node.type == "union" then fail("unsupported type %s", tostring(node.type)) end
		return k
	end
	if node.properties or node.additionalProperties ~= nil then return KIND.object end
	if node.items then return KIND.array end
	if node.enum then return KIND.string end
	return KIND.any
end

function Compiler:build(node, where)
	check_keywords(node, where)
	if node.allOf then node = self:merge_allof(node, where) end
	local e = { flags = node.nullable and S_NULLABLE or 0 }
	if node.oneOf or node.anyOf then
		return self:build_union(node, where, e)
	end
	e.kind = kind_of(node)
	if e.kind == KIND.string and node.format == "binary" then e.flags = e.flags | S_BINARY end
	if node.enum then
		if e.kind ~= KIND.string then fail("%s: enum on a %s", where, tostring(node.type)) end
		e.enum = {}
		for _, v in ipairs(node.enum) do
			if v == lyaml.null then
				e.flags = e.flags | S_NULLABLE
			elseif type(v) ~= "string" then
				fail("%s: non-string enum value %s", where, tostring(v))
			elseif v:find('[%c"\\]') then
				-- the encoder writes a value that matches the enum without escaping it
				fail("%s: enum value %q needs JSON escaping", where, v)
			else
				e.enum[#e.enum + 1] = v
			end
		end
	end
	if e.kind == KIND.integer or e.kind == KIND.number then
		e.min, e.max = node.minimum, node.maximum
	elseif e.kind == KIND.array then
		e.items = node.items and self:compile(node.items, where .. "[]") or 0
		e.min, e.max = node.minItems, node.maxItems
	elseif e.kind == KIND.object then
		self:build_object(node, where, e)
	end
	if (node.minimum or node.maximum) and e.kind ~= KIND.integer and e.kind ~= KIND.number then
		fail("%s: minimum/maximum on a %s", where, tostring(node.type))
	end
	if (node.minItems or node.maxItems) and e.kind ~= KIND.array then
		fail("%s: minItems/maxItems on a %s", where, tostring(node.type))
	end
	return e
end

function Compiler:build_object(node, where, e)
	local props = node.properties or {}
	local required = {}
	for _, r in ipairs(node.required or {}) do
		if props[r] == nil then
			-- A closed object cannot hold an undeclared field, so such a name can only
			-- be a stale entry of the document: it is dropped (and listed in the output).
			self.dropped[#self.dropped + 1] = where .. "." .. r
		else
			required[r] = true
		end
	end
	e.props, e.nreq = {}, 0
	for _, k in ipairs(sorted_keys(props)) do
		local p = props[k]
		-- the encoder writes property names without escaping them
		if k:find('[%c"\\]') then fail("%s: property name %q needs JSON escaping", where, k) end
		local flags = required[k] and P_REQUIRED or 0
		local dep = is_deprecated(p)
		if p["$ref"] then dep = dep or is_deprecated((self:target(p["$ref"]))) end
		if dep then flags = flags | P_DEPRECATED end
		if required[k] then e.nreq = e.nreq + 1 end
		e.props[#e.props + 1] = { name = k, schema = self:compile(p, where .. "." .. k), flags = flags }
	end
	local ap = node.additionalProperties
	if ap == true or (ap == nil and next(props) == nil) then
		e.additional = 0
	elseif type(ap) == "table" then
		e.additional = self:compile(ap, where .. "{}")
	elseif ap ~= nil and ap ~= false then
		fail("%s: additionalProperties %s", where, tostring(ap))
	end
end

function Compiler:build_union(node, where, e)
	local list = node.oneOf or node.anyOf
	if node.oneOf and node.anyOf then fail("%s: both oneOf and anyOf", where) end
	e.kind = KIND.union
	if node.oneOf then e.flags = e.flags | S_ONEOF end
	local tags = {}
	if node.discriminator then
		local d = node.discriminator
		if type(d.propertyName) ~= "string" then fail("%s: discriminator without propertyName", where) end
		e.disc = d.propertyName
		for _, value in ipairs(sorted_keys(d.mapping or {})) do
			tags[refname(d.mapping[value])] = value
		end
	end
	e.branches = {}
	for i, b in ipairs(list) do
		local tag
		if e.disc then
			if not b["$ref"] then fail("%s: discriminated branch %d is not a $ref", where, i) end
			local name = refname(b["$ref"])
			tag = tags[name] or name
		end
		e.branches[#e.branches + 1] = { schema = self:compile(b, where .. "|" .. i), tag = tag }
	end
	return e
end

------------------------------------------------------------------------------
-- Operations

local function resolve_param(doc, p)
	if p["$ref"] then
		local name = p["$ref"]:match("^#/components/parameters/(.+)$")
		local target = name and doc.components.parameters[name]
		if not target then fail("unresolved parameter %s", p["$ref"]) end
		return target
	end
	return p
end

local function pick_content(content, where)
	if content["application/json"] then return "application/json", content["application/json"] end
	local types = sorted_keys(content)
	if #types == 0 then fail("%s: request body without content", where) end
	return types[1], content[types[1]]
end

local function compile_operation(c, doc, path, item, method, op)
	local where = op.operationId or (method .. " " .. path)
	if type(op.operationId) ~= "string" then fail("%s: no operationId", where) end
	local o = { id = op.operationId, path = path, method = METHODS[method], params = {},
		flags = op.deprecated and OP_DEPRECATED or 0 }
	local byname = {}
	local function add_param(raw)
		local p = resolve_param(doc, raw)
		if p["in"] ~= "path" and p["in"] ~= "query" then fail("%s: parameter %s in %s", where, p.name, tostring(p["in"])) end
		if p.name == "body" then fail("%s: parameter named body", where) end
		local flags = 0
		if p["in"] == "path" then
			flags = P_PATH | P_REQUIRED
			if not path:find("{" .. p.name .. "}", 1, true) then fail("%s: path parameter %s not in %s", where, p.name, path) end
		elseif p.required then
			flags = P_REQUIRED
		end
		if p.deprecated then flags = flags | P_DEPRECATED end
		local schema = c:compile(p.schema or {}, where .. "?" .. p.name)
		local k = c.entries[schema].kind
		if k == KIND.array or k == KIND.object or k == KIND.union then
			fail("%s: parameter %s is not a scalar", where, p.name)
		end
		byname[p.name] = { name = p.name, schema = schema, flags = flags }
	end
	for _, p in ipairs(item.parameters or {}) do add_param(p) end
	for _, p in ipairs(op.parameters or {}) do add_param(p) end
	for _, name in ipairs(sorted_keys(byname)) do o.params[#o.params + 1] = byname[name] end
	for name in path:gmatch("{([^}]*)}") do
		if not (byname[name] and byname[name].flags & P_PATH ~= 0) then fail("%s: {%s} is not a path parameter", where, name) end
	end
	local rb = op.requestBody
	if rb then
		if rb["$ref"] then fail("%s: requestBody $ref is not supported", where) end
		local ctype, media = pick_content(rb.content or {}, where)
		o.content_type = ctype
		if ctype == "application/json" then o.flags = o.flags | OP_BODY_JSON end
		if rb.required then o.flags = o.flags | OP_BODY_REQUIRED end
		local schema = media.schema or {}
		o.body = c:compile(schema, where .. "#body")
		o.body_name = schema["$ref"] and refname(schema["$ref"]) or nil
	end
	return o
end

local function compile_operations(c, doc)
	local ops, seen = {}, {}
	for _, path in ipairs(sorted_keys(doc.paths)) do
		local item = doc.paths[path]
		for _, method in ipairs(sorted_keys(item)) do
			if METHODS[method] then
				local o = compile_operation(c, doc, path, item, method, item[method])
				if seen[o.id] then fail("duplicate operationId %s", o.id) end
				seen[o.id] = true
				ops[#ops + 1] = o
			elseif method ~= "parameters" and method ~= "summary" and method ~= "description" then
				fail("%s: unsupported path item key %s", path, method)
			end
		end
	end
	table.sort(ops, function(a, b) return a.id < b.id end)
	return ops
end

------------------------------------------------------------------------------
-- Layout and C output

local function c_string(s)
	return '"' .. s:gsub('[^%w _.,:;/{}()<>=+*&%%$#@!|~^`%[%]-]', function(ch)
		return string.format("\\%03o", ch:byte())
	end) .. '"'
end

local function pool_builder()
	local set = {}
	return {
		add = function(s)
			if #s > 255 then fail("string longer than 255 bytes: %s", s:sub(1, 40)) end
			if s:find("\0", 1, true) then fail("string with NUL") end
			set[s] = true
		end,
		finish = function()
			local list = sorted_keys(set)
			local off, refs = 0, {}
			for _, s in ipairs(list) do
				refs[s] = (off << 8) | #s
				off = off + #s + 1
			end
			if off >= (1 << 24) then fail("string pool too large") end
			return list, refs
		end,
	}
end

local function layout(c, ops)
	local pool = pool_builder()
	pool.add("")
	local strings = {}
	local function str(s) strings[#strings + 1] = s; pool.add(s) end
	for i = 0, c.n - 1 do
		local e = c.entries[i]
		for _, p in ipairs(e.props or {}) do str(p.name) end
		for _, v in ipairs(e.enum or {}) do str(v) end
		for _, b in ipairs(e.branches or {}) do if b.tag then str(b.tag) end end
		if e.disc then str(e.disc) end
	end
	for name in pairs(c.named) do str(name) end
	for _, o in ipairs(ops) do
		str(o.id); str(o.path)
		if o.content_type then str(o.content_type) end
		if o.body_name then str(o.body_name) end
		for _, p in ipairs(o.params) do str(p.name) end
	end
	local list, refs = pool.finish()

	local t = { pool = list, schemas = {}, props = {}, enums = {}, branches = {}, discs = {},
		limits = {}, names = {}, ops = {}, params = {} }
	local ranges = {}
	local function range(array, items, key)
		if #items == 0 then return 0 end
		local k = key .. "\0" .. table.concat(items, "\0")
		local first = ranges[k]
		if first == nil then
			first = #array
			for _, v in ipairs(items) do array[#array + 1] = v end
			ranges[k] = first
		end
		return first
	end
	local limit_index = {}
	local function limits(e)
		if e.min == nil and e.max == nil then return NONE end
		local function num(v, inf)
			if v == nil then return inf end
			return string.format("%.17g", v)
		end
		local s = "{" .. num(e.min, "-INFINITY") .. ", " .. num(e.max, "INFINITY") .. "}"
		if limit_index[s] == nil then
			t.limits[#t.limits + 1] = s
			limit_index[s] = #t.limits - 1
		end
		return limit_index[s]
	end
	local disc_index = {}
	for i = 0, c.n - 1 do
		local e = c.entries[i]
		local first, count, extra, nreq = 0, 0, NONE, 0
		if e.kind == KIND.object then
			local items = {}
			for _, p in ipairs(e.props) do items[#items + 1] = string.format("{%d,%d,%d}", refs[p.name], p.schema, p.flags) end
			first, count, nreq = range(t.props, items, "p"), #items, e.nreq
			extra = e.additional or NONE
		elseif e.kind == KIND.string and e.enum then
			local items = {}
			for _, v in ipairs(e.enum) do items[#items + 1] = tostring(refs[v]) end
			first, count = range(t.enums, items, "e"), #items
		elseif e.kind == KIND.union then
			local items = {}
			for _, b in ipairs(e.branches) do items[#items + 1] = string.format("{%d,%d}", b.tag and refs[b.tag] or 0, b.schema) end
			first, count = range(t.branches, items, "b"), #items
			if e.disc then
				if disc_index[e.disc] == nil then
					t.discs[#t.discs + 1] = tostring(refs[e.disc])
					disc_index[e.disc] = #t.discs - 1
				end
				extra = disc_index[e.disc]
			end
		elseif e.kind == KIND.array then
			first, extra = e.items, limits(e)
		elseif e.kind == KIND.integer or e.kind == KIND.number then
			extra = limits(e)
		end
		t.schemas[#t.schemas + 1] = string.format("{%d,%d,%d,%d,%d,%d}", e.kind, e.flags, first, count, extra, nreq)
	end
	for _, name in ipairs(sorted_keys(c.named)) do
		t.names[#t.names + 1] = string.format("{%d,%d}", refs[name], c.named[name])
	end
	for _, o in ipairs(ops) do
		local items = {}
		for _, p in ipairs(o.params) do items[#items + 1] = string.format("{%d,%d,%d}", refs[p.name], p.schema, p.flags) end
		local first = range(t.params, items, "q")
		t.ops[#t.ops + 1] = string.format("{%d,%d,%d,%d,%d,%d,%d,%d,%d}", refs[o.id], refs[o.path],
			o.content_type and refs[o.content_type] or 0, o.body_name and refs[o.body_name] or 0,
			o.body or NONE, first, #items, o.method, o.flags)
	end
	for name, array in pairs { schemas = t.schemas, props = t.props, enums = t.enums, branches = t.branches, params = t.params } do
		if #array >= NONE then fail("too many %s (%d) for 16-bit indices", name, #array) end
	end
	return t
end

local function emit_array(out, ctype, name, items, per_line)
	if #items == 0 then
		out[#out + 1] = string.format("static const %s %s[1];\n", ctype, name)
		return
	end
	out[#out + 1] = string.format("static const %s %s[%d] = {\n", ctype, name, #items)
	for i = 1, #items, per_line do
		out[#out + 1] = "\t" .. table.concat(items, ",", i, math.min(i + per_line - 1, #items)) .. ",\n"
	end
	out[#out + 1] = "};\n"
end

-- The inputs as the generated files' first lines name them.
local function input_names(sources)
	local inputs = {}
	for _, s in ipairs(sources) do
		inputs[#inputs + 1] = string.format("%s (%d bytes, fnv1a64 %s)", s.file, #s.text, fnv1a64(s.text))
	end
	return inputs
end

local function render(sources, supplied, c, ops, t)
	local inputs = input_names(sources)
	local out = {
		"/* Generated by tools/gen-spec.lua from " .. table.concat(inputs, " + ") .. "; do not edit. */\n",
		"/*\n * Schemas supplied by the generator because the document references them without\n",
		" * defining them: " .. (#supplied > 0 and table.concat(supplied, ", ") or "none") .. ".\n",
		" * Required names dropped because the object declares no such property:\n",
	}
	for i = 1, #c.dropped, 3 do
		out[#out + 1] = " *   " .. table.concat(c.dropped, ", ", i, math.min(i + 2, #c.dropped)) .. "\n"
	end
	out[#out + 1] = " */\n#include <math.h>\n\n#include \"spec.h\"\n\n"
	out[#out + 1] = "static const char pool[] =\n"
	local line = {}
	local width = 0
	for _, s in ipairs(t.pool) do
		local lit = c_string(s .. "\0")
		line[#line + 1] = lit
		width = width + #lit
		if width > 90 then
			out[#out + 1] = "\t" .. table.concat(line) .. "\n"
			line, width = {}, 0
		end
	end
	if #line > 0 then out[#out + 1] = "\t" .. table.concat(line) .. "\n" end
	out[#out + 1] = "\t;\n\n"
	emit_array(out, "struct ei_schema", "schemas", t.schemas, 6)
	emit_array(out, "struct ei_prop", "props", t.props, 5)
	emit_array(out, "ei_str", "enums", t.enums, 8)
	emit_array(out, "struct ei_branch", "branches", t.branches, 6)
	emit_array(out, "ei_str", "discs", t.discs, 8)
	emit_array(out, "struct ei_limits", "limits", t.limits, 2)
	emit_array(out, "struct ei_named", "names", t.names, 6)
	emit_array(out, "struct ei_param", "params", t.params, 5)
	emit_array(out, "struct ei_op", "ops", t.ops, 2)
	out[#out + 1] = string.format([[

const struct ei_spec ei_spec = {
	.pool = pool,
	.schemas = schemas, .nschemas = %d,
	.props = props, .enums = enums, .branches = branches, .discs = discs, .limits = limits,
	.names = names, .nnames = %d,
	.ops = ops, .nops = %d, .params = params,
};
]], #t.schemas, #t.names, #t.ops)
	return table.concat(out)
end


------------------------------------------------------------------------------
-- LuaLS annotations: one class per object schema (nested anonymous objects are
-- classes named after their path), enums as string unions, descriptions as text.

local LUA_KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat return then true until while"):gmatch("%a+") do
	LUA_KEYWORDS[w] = true
end

local function one_line(text)
	if type(text) ~= "string" then return nil end
	local s = text:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
	return s ~= "" and s or nil
end

local function field_name(name)
	if name:match("^[%a_][%w_]*$") and not LUA_KEYWORDS[name] then return name end
	return string.format("[%q]", name)
end

local function luals_type_name(name) return "ei." .. name end

local Annotator = {}
Annotator.__index = Annotator

local function new_annotator(c)
	return setmetatable({ c = c, blocks = {}, wanted = {}, queue = {} }, Annotator)
end

function Annotator:want(name)
	if not self.wanted[name] then
		self.wanted[name] = true
		self.queue[#self.queue + 1] = name
	end
	return luals_type_name(name)
end

local function in_parens(t)
	return t:find("|", 1, true) and "(" .. t .. ")" or t
end

-- The LuaLS type of a schema node; `owner` names the class an anonymous object
-- becomes. A nullable value may also be `ei.null` (types/ei.lua's ei.Null).
function Annotator:type_of(node, owner)
	local t = self:plain_type_of(node, owner)
	if node.nullable then t = t .. "|ei.Null" end
	return t
end

function Annotator:plain_type_of(node, owner)
	if node["$ref"] then return self:want(refname(node["$ref"])) end
	if node.allOf then node = self.c:merge_allof(node, owner) end
	local list = node.oneOf or node.anyOf
	if list then
		local seen, types = {}, {}
		for i, b in ipairs(list) do
			local t = self:type_of(b, owner .. "." .. i)
			if not seen[t] then seen[t] = true; types[#types + 1] = t end
		end
		return table.concat(types, "|")
	end
	if node.enum then
		local values = {}
		for _, v in ipairs(node.enum) do
			if type(v) == "string" then values[#values + 1] = string.format("%q", v) end
		end
		return table.concat(values, "|")
	end
	local kind = kind_of(node)
	if kind == KIND.array then
		return in_parens(node.items and self:type_of(node.items, owner .. "[]") or "any") .. "[]"
	elseif kind == KIND.object then
		if node.properties and next(node.properties) ~= nil then
			self:object_class(node, owner)
			return owner
		end
		local ap = node.additionalProperties
		return "table<string, " .. (type(ap) == "table" and self:type_of(ap, owner .. "{}") or "any") .. ">"
	end
	for name, k in pairs(KIND) do
		if k == kind then return name end
	end
end

function Annotator:object_class(node, class)
	local required = {}
	for _, r in ipairs(node.required or {}) do required[r] = true end
	local lines = {}
	local desc = one_line(node.description)
	if desc then lines[#lines + 1] = "---" .. desc end
	lines[#lines + 1] = "---@class " .. class
	for _, k in ipairs(sorted_keys(node.properties)) do
		local p = node.properties[k]
		local t = self:type_of(p, class .. "." .. k)
		local pdesc = one_line(p.description)
		if not pdesc and p["$ref"] then pdesc = one_line((self.c:target(p["$ref"])).description) end
		lines[#lines + 1] = string.format("---@field %s%s %s%s", field_name(k), required[k] and "" or "?", t,
			pdesc and (" " .. pdesc) or "")
	end
	self.blocks[class] = table.concat(lines, "\n")
end

function Annotator:named(name)
	local node = self.c.schemas[name]
	local class = luals_type_name(name)
	local merged = node.allOf and self.c:merge_allof(node, name) or node
	if not merged["$ref"] and kind_of(merged) == KIND.object and merged.properties and next(merged.properties) ~= nil
		and not (merged.oneOf or merged.anyOf) then
		self:object_class(merged, class)
		return
	end
	local lines = {}
	local desc = one_line(node.description)
	if desc then lines[#lines + 1] = "---" .. desc end
	lines[#lines + 1] = "---@alias " .. class .. " " .. self:type_of(node, class)
	self.blocks[class] = table.concat(lines, "\n")
end

local function render_luals(c, inputs)
	local a = new_annotator(c)
	for _, root in ipairs(LUALS_ROOTS) do a:want(root) end
	local i = 1
	while a.queue[i] do
		a:named(a.queue[i])
		i = i + 1
	end
	local out = {
		"-- Generated by tools/gen-spec.lua from " .. table.concat(inputs, " + ") .. "; do not edit.\n",
		"---@meta _\n",
		"-- LuaLS annotations of the request schemas the Lua API takes (" .. table.concat(LUALS_ROOTS, ", ") .. "),\n",
		"-- with every schema they reference; keys are the API document's own names.\n",
	}
	for _, class in ipairs(sorted_keys(a.blocks)) do
		out[#out + 1] = "\n" .. a.blocks[class] .. "\n"
	end
	return table.concat(out)
end

------------------------------------------------------------------------------

local function main(argv)
	local check, dir = false, nil
	for _, a in ipairs(argv) do
		if a == "--check" then
			check = true
		elseif a:sub(1, 1) == "-" then
			fail("usage: lua5.4 tools/gen-spec.lua [--check] [SPEC_DIR]")
		else
			dir = a
		end
	end
	local root = repo_root()
	dir = dir or (root .. "/../shared/spec")
	local doc, sources, supplied = load_inputs(dir)
	local c = new_compiler(doc)
	for _, name in ipairs(sorted_keys(c.schemas)) do c:compile_named(name) end
	local ops = compile_operations(c, doc)
	local outputs = {
		{ path = OUTPUT, text = render(sources, supplied, c, ops, layout(c, ops)) },
		{ path = LUALS_OUTPUT, text = render_luals(c, input_names(sources)) },
	}
	for _, o in ipairs(outputs) do
		local target = root .. "/" .. o.path
		if check then
			local f = io.open(target, "rb")
			local old = f and f:read("a")
			if f then f:close() end
			if old ~= o.text then
				io.stderr:write("gen-spec: ", o.path, " is stale; run lua5.4 tools/gen-spec.lua\n")
				os.exit(1)
			end
		else
			local f = assert(io.open(target, "wb"))
			f:write(o.text)
			f:close()
			io.stderr:write(string.format("gen-spec: wrote %s (%d bytes)\n", o.path, #o.text))
		end
	end
	if not check then
		io.stderr:write(string.format("gen-spec: %d schemas, %d operations\n", c.n, #ops))
	end
end

main(arg or {})
