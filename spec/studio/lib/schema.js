'use strict';
// Validation of requests against the committed, generated JSON Schemas: request bodies,
// and the parameters (path and query, as one object) of the operations in operations.json.

const path = require('path');
const Ajv = require('ajv');

const SCHEMA_DIR = path.join(__dirname, '..', 'schema');

function compile(name, ajvOptions = {}) {
  const ajv = new Ajv({ allErrors: false, strict: true, validateFormats: false, ...ajvOptions });
  return ajv.compile(require(path.join(SCHEMA_DIR, `${name}.json`)));
}

// Parameters arrive as strings: they are coerced to their schema types in place.
const operationsAjv = {
  body: new Ajv({ allErrors: false, strict: true, validateFormats: false }),
  parameters: new Ajv({ allErrors: false, strict: true, validateFormats: false, coerceTypes: true }),
};
for (const ajv of Object.values(operationsAjv)) ajv.addSchema(require(path.join(SCHEMA_DIR, 'operations.json')), 'operations');

// "/visualLayers/0/type" -> "visualLayers[0].type"
function fieldPath(instancePath, extra) {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(body)';
}

function describe(err) {
  if (err.keyword === 'required') return `${fieldPath(err.instancePath, err.params.missingProperty)}: is required`;
  if (err.keyword === 'enum') return `${fieldPath(err.instancePath)}: must be one of ${err.params.allowedValues.join(', ')}`;
  return `${fieldPath(err.instancePath)}: ${err.message}`;
}

// A validator returning null or the message naming the first offending field: of the
// schema file `name`, or with `part` ('body' or 'parameters') of operation `name`.
function validator(name, part) {
  const validate = part ? operationsAjv[part].getSchema(`operations#/definitions/${name}.${part}`) : compile(name);
  if (!validate) throw new Error(`no schema for ${name} ${part || ''}`);
  return (body) => {
    if (validate(body)) return null;
    const errors = validate.errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
    return describe(errors[0] || validate.errors[0]);
  };
}

// A multipart/form-data body ({fields, files} of multipart.js): every value is text, so
// types are coerced as a form parser would (a repeated or single part is an array where
// the schema wants one); a `format: binary` property must be a file part.
function formValidator(name) {
  const schema = require(path.join(SCHEMA_DIR, `${name}.json`));
  const validate = compile(name, { coerceTypes: 'array' });
  const binary = (p) => p.format === 'binary' || (p.items && p.items.format === 'binary');
  return ({ fields, files }) => {
    for (const [key, prop] of Object.entries(schema.properties || {})) {
      if (binary(prop) && key in fields) return `${key}: must be a file part`;
      if (!binary(prop) && key in files) return `${key}: must be a field, not a file`;
    }
    const value = { ...fields };
    for (const [key, file] of Object.entries(files)) value[key] = Array.isArray(file) ? file.map((f) => f.filename) : file.filename;
    for (const [key, v] of Object.entries(value)) if (Array.isArray(v)) value[key] = [...v];
    if (validate(value)) return null;
    return describe(validate.errors[0]);
  };
}

module.exports = { validator, formValidator, fieldPath };
