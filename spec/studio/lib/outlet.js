'use strict';
// What the server sends on one Socket.IO connection, and how the connection ends.
// Events go out through socket.io's own emit, one Engine.IO packet per websocket
// frame, written as socket.io writes them; malformed packets (junkFrames) through
// engine.io's sendPacket. Under the batchedFrames knob, stream items are instead
// written as raw batches of frames (lib/wire.js). Counts every frame sent (the
// dropSocket knob), applies backpressure, and cuts the connection: closed (FIN), in the
// middle of a frame, or reset (RST).

const { encodeFrames, packetText } = require('./wire');

const HIGH_WATER = 1024 * 1024; // bytes queued in the TCP socket before pausing
const MAX_QUEUED = 1024; // packets queued in engine.io before pausing
const RESET_DELAY_MS = 100; // time for the peer to read what was sent before a reset

class Outlet {
  // `limit`/`onLimit`: onLimit() is called once when `limit` frames have been sent
  // (the dropSocket knob, set up in socket.js).
  // onCut(how): called as the connection is cut ('close', 'midFrame' or 'reset').
  constructor(socket, { batched = false, onCut = () => {} } = {}) {
    this.socket = socket;
    this.onCut = onCut;
    this.engine = socket.conn;
    this.batched = batched;
    this.pending = []; // batched items waiting for engine.io's buffer to drain
    this.framesSent = 2; // the open packet and the namespace connect are already out
    this.limit = Infinity;
    this.onLimit = null;
    this.cutMidFrame = false; // the frame after the limit is cut in half
    this.closed = false;
    this.engine.on('packetCreate', () => this.count(1));
    this.engine.on('drain', () => this.flushPending());
    this.engine.on('close', () => {
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

  // True while the connection takes more without piling it up in memory.
  writable() {
    const tcp = this.tcp;
    return !this.closed && this.engine.writeBuffer.length < MAX_QUEUED && (!tcp || tcp.writableLength < HIGH_WATER) && this.pending.length === 0;
  }

  onDrain(cb) {
    const tcp = this.tcp;
    if (this.closed) return;
    if (tcp && tcp.writableLength >= HIGH_WATER) tcp.once('drain', cb);
    else if (this.engine.writeBuffer.length >= MAX_QUEUED) this.engine.once('drain', cb);
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

  // Frames still allowed before the configured drop (the cut frame included).
  room() {
    return this.limit - this.framesSent + (this.cutMidFrame ? 1 : 0);
  }

  // Stream items: {event, data} (a Socket.IO event) or {raw} (a packet as text, or a
  // Buffer for a binary frame).
  send(items) {
    if (this.closed || !items.length) return;
    if (this.cutMidFrame && this.framesSent >= this.limit) return this.cut(items[0]);
    if (this.batched) {
      const whole = this.cutMidFrame ? this.limit - this.framesSent : items.length;
      this.sendBatched(items.slice(0, whole));
      if (whole < items.length) this.cut(items[whole]);
      return;
    }
    for (const item of items) {
      if (this.cutMidFrame && this.framesSent >= this.limit) return this.cut(item);
      if (item.raw === undefined) this.socket.emit(item.event, item.data);
      else if (Buffer.isBuffer(item.raw)) this.engine.sendPacket('message', item.raw.subarray(1)); // engine.io adds the type byte
      else this.engine.sendPacket('message', item.raw.slice(1)); // `42[...`: packet type 4, then the rest
    }
  }

  sendBatched(items) {
    if (!items.length) return;
    if (this.engine.writeBuffer.length || this.pending.length) {
      this.pending.push(...items);
      return;
    }
    this.writeBatch(items);
  }

  writeBatch(items) {
    const tcp = this.tcp;
    if (!tcp) {
      // polling transport: only well-formed message packets can be carried
      for (const item of items) if (item.raw === undefined) this.socket.emit(item.event, item.data);
      return;
    }
    tcp.write(encodeFrames(items.map(packetText)));
    this.count(items.length);
  }

  flushPending() {
    if (!this.pending.length || this.engine.writeBuffer.length) return;
    const items = this.pending;
    this.pending = [];
    this.writeBatch(items);
  }

  // Runs `fn` once engine.io and the batched path have handed everything queued to the
  // TCP socket (flushPending, listening since the constructor, runs first on a drain).
  afterFlush(fn) {
    if (this.engine.writeBuffer.length || this.pending.length) this.engine.once('drain', () => this.afterFlush(fn));
    else fn();
  }

  // The first half of the item's frame, then the TCP connection closed.
  cut(item) {
    this.closed = true;
    this.afterFlush(() => {
      const tcp = this.tcp;
      if (!tcp) return this.engine.close(true);
      const frame = encodeFrames([packetText(item)]);
      tcp.write(frame.subarray(0, Math.max(1, frame.length >> 1)));
      tcp.end(() => tcp.destroy());
      this.onCut('midFrame');
    });
  }

  // Abrupt end of the connection, no websocket close frame. `how`: 'close' (what was
  // written is delivered, then FIN) or 'reset' (RST, shortly after what was written left:
  // a peer that has not read it yet may see the end of the stream instead of
  // ECONNRESET, as Linux drops a reset connection's unread data... or delivers it).
  drop(how = 'close') {
    if (this.closed) return;
    this.closed = true;
    this.afterFlush(() => {
      const tcp = this.tcp;
      if (!tcp) return this.engine.close(true);
      if (how !== 'reset') {
        tcp.end(() => tcp.destroy());
        return this.onCut('close');
      }
      const reset = () => setTimeout(() => {
        tcp.resetAndDestroy();
        this.onCut('reset');
      }, RESET_DELAY_MS);
      if (tcp.writableLength) tcp.once('drain', reset);
      else reset();
    });
  }
}

module.exports = { Outlet };
