'use strict';
// Validation of requests against the committed, generated JSON Schemas: request bodies,
// and the parameters (path and query, as one object) of the operations in operations.json.

const path = require('path');
const Ajv = require('ajv');

const SCHEMA_DIR = path.join(__dirname, '..', 'schema');

function compile(name) {
  const ajv = new Ajv({ allErrors: false, strict: true, validateFormats: false });
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

module.exports = { validator, fieldPath };
