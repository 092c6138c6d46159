'use strict';
// Conversion of OpenAPI 3.0 schema objects to JSON Schema (draft-07) that ajv
// accepts in strict mode. Shared by extract-schema.js and the response-shape test.

const REF_PREFIX = '#/components/schemas/';

// OpenAPI-only keywords (or annotations ajv's draft-07 meta-schema does not know).
const DROPPED = new Set(['example', 'examples', 'discriminator', 'xml', 'externalDocs', 'deprecated', 'nullable']);

function refName(ref) {
  if (typeof ref !== 'string' || !ref.startsWith(REF_PREFIX)) {
    throw new Error(`unsupported $ref ${JSON.stringify(ref)}`);
  }
  return ref.slice(REF_PREFIX.length);
}

// Every schema name reachable from `root` through $ref, resolved with `lookup(name)`.
function referencedNames(root, lookup) {
  const seen = new Set();
  const visit = (node) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref') {
        const name = refName(value);
        if (!seen.has(name)) {
          seen.add(name);
          visit(lookup(name));
        }
      } else if (typeof value === 'object') {
        visit(value);
      }
    }
  };
  visit(root);
  return [...seen].sort();
}

function addNull(schema) {
  const out = { ...schema };
  if (typeof out.type === 'string') out.type = [out.type, 'null'];
  else if (Array.isArray(out.type) && !out.type.includes('null')) out.type = [...out.type, 'null'];
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  return out;
}

// opts.anyOfNames: schema names whose oneOf must be read as anyOf.
// opts.oneOfAsAnyOf: read every oneOf as anyOf (lenient, for response checks).
function convert(node, opts = {}, name = null) {
  if (Array.isArray(node)) return node.map((n) => convert(n, opts));
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key) || key.startsWith('x-')) continue;
    if (key === '$ref') out.$ref = `#/definitions/${refName(value)}`;
    else if (key === 'properties' || key === 'definitions') out[key] = convertMap(value, opts);
    else if (key === 'oneOf' && (opts.oneOfAsAnyOf || (opts.anyOfNames || []).includes(name))) out.anyOf = convert(value, opts);
    else if (key === 'enum' || key === 'required' || key === 'default') out[key] = value;
    else out[key] = convert(value, opts);
  }
  if (node.nullable === true) return nullable(out);
  return out;
}

function nullable(schema) {
  if (schema.type !== undefined) return addNull(schema);
  // a $ref/allOf/oneOf that may also be null
  const { description, ...rest } = schema;
  const out = { anyOf: [rest, { type: 'null' }] };
  if (description !== undefined) out.description = description;
  return out;
}

function convertMap(map, opts) {
  const out = {};
  for (const [key, value] of Object.entries(map)) out[key] = convert(value, opts);
  return out;
}

// Deep copy with object keys sorted, `first` keys kept in front (stable output).
function sortKeys(value, first = []) {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v));
  if (!value || typeof value !== 'object') return value;
  const keys = Object.keys(value).sort((a, b) => {
    const ia = first.indexOf(a);
    const ib = first.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? Infinity : ia) - (ib === -1 ? Infinity : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const out = {};
  for (const key of keys) out[key] = sortKeys(value[key]);
  return out;
}

module.exports = { convert, referencedNames, refName, sortKeys, REF_PREFIX };
