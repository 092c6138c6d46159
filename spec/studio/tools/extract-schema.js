#!/usr/bin/env node
'use strict';
// Writes schema/<Name>.json for each request body the simulator validates
// (SetKerasParameterRequest, UploadPretrainedModelRequest) and schema/operations.json
// (the parameters and request bodies of the classify and deployment operations) from
// the official OpenAPI documents.
//
//   node tools/extract-schema.js [SPEC_DIR]           regenerate
//   node tools/extract-schema.js --check [SPEC_DIR]   exit 1 when a committed file is stale
//
// SPEC_DIR defaults to <repo root>/../shared/spec.

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const { convert, referencedNames, sortKeys } = require('./openapi-schema');

const STUDIO_DIR = path.resolve(__dirname, '..');
const REPO_ROOT = path.resolve(STUDIO_DIR, '..', '..');
const OPERATIONS_OUTPUT = path.join(STUDIO_DIR, 'schema', 'operations.json');
// Operations whose parameters and bodies the simulator validates through operations.json.
const OPERATIONS = [
  'startClassifyJob', 'getClassifyJobResult', 'getPerformanceAllVariants',
  'buildOnDeviceModelJob', 'getDeployment', 'downloadBuild', 'downloadHistoricDeployment',
];
const MAIN_DOC = 'edge-impulse-studio-openapi.yml';
const FRAGMENT_RE = /^edge-impulse-studio-openapi\.(\d{4}-\d{2}-\d{2})\.SetKerasParameterRequest\.fragment\.yml$/;
const ROOT = 'SetKerasParameterRequest';
// Every schema written; the newest fragment only ever redefines ROOT.
const ROOTS = [ROOT, 'UploadPretrainedModelRequest'];
const outputOf = (name) => path.join(STUDIO_DIR, 'schema', `${name}.json`);
const OUTPUT = outputOf(ROOT);
// BlockParameters is a oneOf of two open objects: every value matches both.
const ANY_OF_NAMES = ['BlockParameters'];

function parseArgs(argv) {
  const args = { check: false, specDir: path.resolve(REPO_ROOT, '..', 'shared', 'spec') };
  for (const arg of argv) {
    if (arg === '--check') args.check = true;
    else if (arg === '-h' || arg === '--help') args.help = true;
    else args.specDir = path.resolve(arg);
  }
  return args;
}

function newestFragment(specDir) {
  const names = fs.readdirSync(specDir).filter((n) => FRAGMENT_RE.test(n)).sort();
  return names.length ? names[names.length - 1] : null;
}

function loadYaml(file) {
  return yaml.load(fs.readFileSync(file, 'utf8'));
}

// A schema referenced by the newest fragment may be absent from the main document;
// the official generated bindings carry its enum values (`<Name>Values`).
function fromOfficialBindings(name) {
  const file = name[0].toLowerCase() + name.slice(1);
  let mod;
  try {
    mod = require(`edge-impulse-api/build/library/sdk/model/${file}`);
  } catch (e) {
    throw new Error(`schema ${name} is in neither document and edge-impulse-api is not installed (run npm ci)`);
  }
  const values = mod[`${name}Values`];
  if (!Array.isArray(values)) throw new Error(`schema ${name} not found in any source`);
  const version = require('edge-impulse-api/package.json').version;
  return { schema: { type: 'string', enum: values }, source: `edge-impulse-api@${version} (${name}Values)` };
}

function build(specDir, rootName = ROOT) {
  const mainDoc = loadYaml(path.join(specDir, MAIN_DOC));
  const fragmentName = rootName === ROOT ? newestFragment(specDir) : null;
  const fragment = fragmentName ? loadYaml(path.join(specDir, fragmentName)) : {};
  const main = mainDoc.components.schemas;
  const root = (fragment && fragment[rootName]) || main[rootName];
  if (!root) throw new Error(`${rootName} not found`);

  const extra = [];
  const resolved = {};
  const lookup = (name) => {
    if (resolved[name]) return resolved[name];
    if (main[name]) resolved[name] = main[name];
    else {
      const found = fromOfficialBindings(name);
      extra.push(`${name} from ${found.source}`);
      resolved[name] = found.schema;
    }
    return resolved[name];
  };
  const names = referencedNames(root, lookup);

  const definitions = {};
  for (const name of names) definitions[name] = convert(resolved[name], { anyOfNames: ANY_OF_NAMES }, name);
  const sources = [`${MAIN_DOC} (info.version ${mainDoc.info.version})`];
  if (fragmentName) sources.push(`${fragmentName} (its ${ROOT} wins)`);
  const comment = [
    'GENERATED FILE, do not edit by hand.',
    'Written by spec/studio/tools/extract-schema.js from',
    sources.join(' and ') + (extra.length ? `; ${extra.join('; ')}` : '') + '.',
    'Regenerate: node spec/studio/tools/extract-schema.js; check: add --check.',
  ].join(' ');
  const schema = {
    $comment: comment,
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: rootName,
    ...convert(root, { anyOfNames: ANY_OF_NAMES }, rootName),
    definitions,
  };
  return JSON.stringify(sortKeys(schema, ['$comment', '$schema', 'title']), null, 2) + '\n';
}

function findOperation(doc, operationId) {
  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) {
      if (op && op.operationId === operationId) return op;
    }
  }
  throw new Error(`operation ${operationId} not found`);
}

// `<op>.parameters`: the path (but projectId) and query parameters as one object schema;
// `<op>.body`: the JSON request body.
function operationSchemas(doc, operationId) {
  const op = findOperation(doc, operationId);
  const out = {};
  const properties = {};
  const required = [];
  for (const ref of op.parameters || []) {
    const p = ref.$ref ? doc.components.parameters[ref.$ref.split('/').pop()] : ref;
    if (!p || p.name === 'projectId' || (p.in !== 'path' && p.in !== 'query')) continue;
    properties[p.name] = p.schema;
    if (p.required) required.push(p.name);
  }
  out[`${operationId}.parameters`] = { type: 'object', properties, ...(required.length ? { required } : {}) };
  const body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
  if (body) out[`${operationId}.body`] = body.schema;
  return out;
}

function buildOperations(specDir) {
  const doc = loadYaml(path.join(specDir, MAIN_DOC));
  const main = doc.components.schemas;
  const roots = {};
  for (const id of OPERATIONS) Object.assign(roots, operationSchemas(doc, id));
  const names = referencedNames(roots, (name) => {
    if (!main[name]) throw new Error(`schema ${name} not found`);
    return main[name];
  });
  const definitions = {};
  for (const [name, schema] of Object.entries(roots)) definitions[name] = convert(schema, {}, name);
  for (const name of names) definitions[name] = convert(main[name], {}, name);
  const schema = {
    $comment: [
      'GENERATED FILE, do not edit by hand.',
      `Written by spec/studio/tools/extract-schema.js from ${MAIN_DOC} (info.version ${doc.info.version}):`,
      `the parameters and request bodies of ${OPERATIONS.join(', ')}.`,
      'Regenerate: node spec/studio/tools/extract-schema.js; check: add --check.',
    ].join(' '),
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'operations',
    definitions,
  };
  return JSON.stringify(sortKeys(schema, ['$comment', '$schema', 'title']), null, 2) + '\n';
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write('usage: extract-schema.js [--check] [SPEC_DIR]\n');
    return 0;
  }
  const outputs = ROOTS.map((name) => [outputOf(name), build(args.specDir, name)]);
  outputs.push([OPERATIONS_OUTPUT, buildOperations(args.specDir)]);
  let stale = 0;
  for (const [file, text] of outputs) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (current === text) continue;
    if (args.check) {
      process.stderr.write(`${path.relative(process.cwd(), file)} is stale: run node spec/studio/tools/extract-schema.js\n`);
      stale = 1;
    } else fs.writeFileSync(file, text);
  }
  return stale;
}

if (require.main === module) {
  try {
    process.exitCode = main();
  } catch (e) {
    process.stderr.write(`extract-schema: ${e.message}\n`);
    process.exitCode = 2;
  }
}

module.exports = { build, buildOperations, OUTPUT, OPERATIONS_OUTPUT, ROOTS, outputOf };
