'use strict';
// --record FILE.jsonl: one JSON line per client action, written synchronously so a
// test can read the file while the simulator runs. Credentials become "<redacted>".

const fs = require('fs');
const { parseMultipart } = require('./multipart');

const REDACTED = '<redacted>';
const SECRET_HEADERS = new Set(['x-api-key', 'x-jwt-token', 'authorization', 'cookie', 'proxy-authorization']);
const SECRET_KEYS = new Set([
  'client_secret', 'clientSecret', 'password', 'apiKey', 'api_key', 'jwt', 'jwtToken', 'token',
  'access_token', 'refresh_token', 'socketToken', 'assertion', 'code',
]);

function redactHeaders(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) out[k] = SECRET_HEADERS.has(k) ? REDACTED : v;
  return out;
}

function redactKeys(value) {
  if (Array.isArray(value)) return value.map(redactKeys);
  if (!value || typeof value !== 'object') return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k) ? REDACTED : redactKeys(v);
  return out;
}

function redactForm(text) {
  return text.replace(/(^|&)([^=&]*)=([^&]*)/g, (m, sep, key, val) => {
    const name = decodeURIComponent(key.replace(/\+/g, ' '));
    return SECRET_KEYS.has(name) ? `${sep}${key}=${REDACTED}` : m;
  });
}

class Recorder {
  // secrets(): every credential string the simulator knows, scrubbed from each line.
  constructor(file, secrets = () => []) {
    this.fd = file ? fs.openSync(file, 'a') : null;
    this.secrets = secrets;
  }

  get enabled() {
    return this.fd !== null;
  }

  write(entry) {
    if (this.fd === null) return;
    let line = JSON.stringify({ t: Date.now(), ...entry });
    for (const secret of this.secrets()) {
      if (secret && line.includes(secret)) line = line.split(secret).join(REDACTED);
    }
    fs.writeSync(this.fd, line + '\n');
  }

  // A /v1 call; `stalled` (never answered) and `delayedMs` (answered late) mark the
  // calls a fault rule held back.
  http({ method, path, query, headers, body, raw, status, operationId, stalled, delayedMs }) {
    const entry = { kind: 'http', method, path, query: redactKeys(query), headers: redactHeaders(headers), body, status };
    if (operationId) entry.operationId = operationId;
    if (raw !== undefined) entry.raw = raw;
    if (stalled) entry.stalled = true;
    if (delayedMs) entry.delayedMs = delayedMs;
    this.write(entry);
  }

  close() {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

// Parses a request body (a Buffer) for the record and the routes: JSON when it parses,
// form fields for urlencoded bodies, fields and file summaries for multipart bodies
// (the record shows each file as {filename, contentType, size, sha256}), the text
// otherwise. Secrets are removed.
function parseBody(buf, contentType) {
  if (!buf || !buf.length) return { body: null, raw: undefined, parsed: undefined };
  const type = (contentType || '').split(';')[0].trim().toLowerCase();
  if (type === 'multipart/form-data') {
    try {
      const multipart = parseMultipart(buf, contentType);
      return { body: redactKeys({ ...multipart.fields, ...multipart.files }), raw: undefined, parsed: undefined, multipart };
    } catch (e) {
      return { body: null, raw: undefined, parsed: undefined, invalidMultipart: e.message };
    }
  }
  const text = buf.toString('utf8');
  if (type === 'application/x-www-form-urlencoded') {
    const parsed = Object.fromEntries(new URLSearchParams(text));
    return { body: redactKeys(parsed), raw: redactForm(text), parsed };
  }
  try {
    const parsed = JSON.parse(text);
    return { body: redactKeys(parsed), raw: text, parsed };
  } catch (e) {
    return { body: text, raw: text, parsed: undefined, invalidJson: type.includes('json') };
  }
}

module.exports = { Recorder, parseBody, redactKeys, redactHeaders, REDACTED };
