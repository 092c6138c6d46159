'use strict';
// The batched fast path of the batchedFrames knob (stress tests only): pre-encoded
// Engine.IO packets (e.g. `42["job-data-1",{...}]`) framed here and written many per TCP
// write straight to the socket, bypassing socket.io. Studio does not write like this;
// by default every packet goes through socket.io's own emit (lib/outlet.js).

function frameHeader(opcode, len) {
  if (len < 126) return Buffer.from([0x80 | opcode, len]);
  if (len < 65536) {
    const h = Buffer.alloc(4);
    h[0] = 0x80 | opcode;
    h[1] = 126;
    h.writeUInt16BE(len, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(len), 2);
  return h;
}

// One buffer holding an unmasked websocket frame per item (string: text, Buffer: binary).
function encodeFrames(items) {
  const parts = [];
  let total = 0;
  for (const item of items) {
    const payload = typeof item === 'string' ? Buffer.from(item, 'utf8') : item;
    const header = frameHeader(typeof item === 'string' ? 0x1 : 0x2, payload.length);
    parts.push(header, payload);
    total += header.length + payload.length;
  }
  return Buffer.concat(parts, total);
}

// The Engine.IO text of a stream item ({event, data[, enc]} or {raw}).
function packetText(item) {
  if (item.raw !== undefined) return item.raw;
  if (item.enc === undefined) item.enc = `42${JSON.stringify([item.event, item.data])}`;
  return item.enc;
}

module.exports = { encodeFrames, frameHeader, packetText };
