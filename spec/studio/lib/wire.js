'use strict';
// Server-to-client frames of one Socket.IO connection. Events are pre-encoded
// Engine.IO packets (e.g. `42["job-data-1",{...}]`); on a websocket they are framed here
// and written in batches straight to the TCP socket, which is what makes 100k+
// events/s possible. Order with the packets engine.io itself sends (open, `40`, pongs)
// is kept by writing only while engine.io's own write buffer is empty.

const HIGH_WATER = 1024 * 1024;

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

// One buffer holding a websocket frame per item (string: text, Buffer: binary).
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

class Wire {
  // `limit`/`onLimit`: onLimit() is called once when `limit` frames have been sent
  // (the dropSocket knob, set up in socket.js).
  constructor(engineSocket) {
    this.engine = engineSocket;
    this.pending = []; // items waiting for engine.io's buffer to drain
    this.framesSent = 2; // the open packet and the namespace connect are already out
    this.limit = Infinity;
    this.onLimit = null;
    this.closed = false;
    engineSocket.on('packetCreate', () => this.count(1));
    engineSocket.on('drain', () => this.flushPending());
    engineSocket.on('close', () => {
      this.closed = true;
    });
  }

  get ws() {
    const t = this.engine.transport;
    return t && t.name === 'websocket' ? t.socket : null;
  }

  get tcp() {
    const ws = this.ws;
    return ws ? ws._socket : null;
  }

  // True while the socket takes more data without piling it up in memory.
  writable() {
    const tcp = this.tcp;
    return !this.closed && (!tcp || tcp.writableLength < HIGH_WATER) && this.pending.length === 0;
  }

  onDrain(cb) {
    const tcp = this.tcp;
    if (this.closed) return;
    if (tcp && tcp.writableLength >= HIGH_WATER) tcp.once('drain', cb);
    else setTimeout(cb, 1);
  }

  count(n) {
    this.framesSent += n;
    if (this.framesSent >= this.limit && this.onLimit) {
      const cb = this.onLimit;
      this.onLimit = null;
      cb();
    }
  }

  // Frames still allowed before the configured drop.
  room() {
    return this.limit - this.framesSent;
  }

  send(items) {
    if (this.closed || !items.length) return;
    if (this.engine.writeBuffer.length || this.pending.length) {
      this.pending.push(...items);
      return;
    }
    this.write(items);
  }

  write(items) {
    const tcp = this.tcp;
    if (tcp) {
      tcp.write(encodeFrames(items));
    } else {
      // polling transport: only well-formed message packets can be carried
      for (const item of items) {
        if (typeof item === 'string' && item[0] === '4') this.engine.sendPacket('message', item.slice(1));
      }
      return;
    }
    this.count(items.length);
  }

  flushPending() {
    if (!this.pending.length || this.engine.writeBuffer.length) return;
    const items = this.pending;
    this.pending = [];
    this.write(items);
  }

  // Abrupt end of the connection: everything already written is delivered, then the
  // TCP connection is closed without a websocket close frame.
  drop() {
    if (this.closed) return;
    this.closed = true;
    const tcp = this.tcp;
    if (tcp) tcp.end(() => tcp.destroy());
    else this.engine.close(true);
  }
}

module.exports = { Wire, encodeFrames };
