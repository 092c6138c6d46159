'use strict';
// multipart/form-data request bodies (RFC 7578): text fields and files, read from the
// raw bytes. Files are summarised (name, type, size, sha256), never kept.

const crypto = require('crypto');

function boundaryOf(contentType) {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType || '');
  return m ? m[1] || m[2] : null;
}

function headerParams(value) {
  const params = {};
  const re = /;\s*([\w*-]+)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  let m;
  while ((m = re.exec(value))) params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3].trim();
  return params;
}

function parsePart(bytes) {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('a part has no header block');
  const headers = {};
  for (const line of bytes.subarray(0, end).toString('utf8').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const disposition = headers['content-disposition'] || '';
  if (!/^form-data\b/i.test(disposition)) throw new Error('a part is not form-data');
  const params = headerParams(disposition);
  if (!params.name) throw new Error('a part has no name');
  return { name: params.name, filename: params.filename, contentType: headers['content-type'], data: bytes.subarray(end + 4) };
}

function add(map, name, value) {
  if (!(name in map)) map[name] = value;
  else if (Array.isArray(map[name]) && map[name].repeated) map[name].push(value);
  else {
    const list = [map[name], value];
    list.repeated = true;
    map[name] = list;
  }
}

// { fields: {name: text | [text]}, files: {name: summary | [summary]} }; throws on
// a malformed body.
function parseMultipart(buf, contentType) {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new Error('no boundary in the Content-Type');
  const delimiter = Buffer.from(`--${boundary}`);
  const fields = {};
  const files = {};
  let at = buf.indexOf(delimiter);
  if (at < 0) throw new Error('no part');
  for (;;) {
    const start = at + delimiter.length;
    if (buf.subarray(start, start + 2).toString() === '--') break;
    if (buf.subarray(start, start + 2).toString() !== '\r\n') throw new Error('malformed delimiter');
    const next = buf.indexOf(Buffer.from(`\r\n--${boundary}`), start);
    if (next < 0) throw new Error('the body ends inside a part');
    const part = parsePart(buf.subarray(start + 2, next));
    if (part.filename !== undefined) {
      const sha256 = crypto.createHash('sha256').update(part.data).digest('hex');
      add(files, part.name, { filename: part.filename, contentType: part.contentType || null, size: part.data.length, sha256 });
    } else add(fields, part.name, part.data.toString('utf8'));
    at = next + 2;
  }
  return { fields, files };
}

module.exports = { parseMultipart, boundaryOf };
