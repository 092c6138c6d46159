'use strict';
// The simulated on-device performance: RAM, ROM (flash) and latency of a trained model
// per latency device, model variant and engine, from the layers it was trained with, and
// the DSP block's RAM and latency. Bigger layers give more of all three.

const { CLASSES, FEATURE_COUNT } = require('./fixtures');

// Latency devices; the first is the project's (isDefault). Cycles per multiply-accumulate
// for int8 and float32 kernels.
const DEVICES = [
  { mcu: 'cortex-m4f-80mhz', name: 'Cortex-M4F 80MHz', mhz: 80, int8: 1.6, float32: 4.5, dspMs: 8 },
  { mcu: 'cortex-m7-216mhz', name: 'Cortex-M7 216MHz', mhz: 216, int8: 0.9, float32: 1.8, dspMs: 3 },
  { mcu: 'esp32-240mhz', name: 'Espressif ESP-EYE (ESP32 240MHz)', mhz: 240, int8: 3.2, float32: 6.5, dspMs: 11 },
];

// Dense widths of the network (input, hidden layers, output), as the training log's
// model summary has them.
function widths(layers) {
  const out = [FEATURE_COUNT];
  for (const l of layers || []) {
    if (['dense', 'conv1d', 'conv2d'].includes(l.type) && l.neurons) out.push(l.neurons);
  }
  out.push(CLASSES.length);
  return out;
}

function shape(layers) {
  const w = widths(layers);
  let weights = 0;
  let biases = 0;
  for (let i = 1; i < w.length; i++) {
    weights += w[i - 1] * w[i];
    biases += w[i];
  }
  return { weights, biases, macs: weights, layers: w.length - 1, widest: Math.max(...w) };
}

// {tflite, eon, eon_ram_optimized} for one model variant: bytes each engine needs.
function engines(s, variant) {
  const q = variant === 'int8';
  const data = q ? s.weights + 4 * s.biases : 4 * (s.weights + s.biases);
  const act = q ? 1 : 4;
  const modelSize = data + 1400 + 160 * s.layers;
  const arena = 2 * s.widest * act + 96 * s.layers + (q ? 0 : 256);
  const tflite = { arenaSize: arena + 480, modelSize };
  tflite.ramRequired = tflite.arenaSize + 192;
  tflite.romRequired = modelSize + 13064 + (q ? 0 : 2200);
  const eon = { arenaSize: arena, modelSize: data + 420 * s.layers };
  eon.ramRequired = arena + 64;
  eon.romRequired = eon.modelSize + 9080 + (q ? 0 : 1400);
  const ramOpt = { arenaSize: Math.ceil(arena * 0.6), modelSize: eon.modelSize + 96 * s.layers };
  ramOpt.ramRequired = ramOpt.arenaSize + 64;
  ramOpt.romRequired = eon.romRequired + 96 * s.layers + 512;
  return { tflite, eon, eon_ram_optimized: ramOpt };
}

// Whole milliseconds, at least 1, as Studio reports them.
function latencyMs(s, device, variant) {
  const cycles = s.macs * device[variant === 'int8' ? 'int8' : 'float32'] + 6000 * s.layers;
  return Math.max(1, Math.ceil(cycles / (device.mhz * 1000)));
}

// onDevicePerformance of a model variant (KerasModelMetadataMetrics), one per device.
function onDevicePerformance(layers, variant) {
  const s = shape(layers);
  const e = engines(s, variant);
  return DEVICES.map((d, i) => ({
    mcu: d.mcu, name: d.name, isDefault: i === 0, latency: latencyMs(s, d, variant),
    tflite: e.tflite, eon: e.eon, eon_ram_optimized: e.eon_ram_optimized, hasPerformance: true,
  }));
}

// getPerformanceAllVariants: the spectral-analysis block over its window, per device.
function dspPerformance(impulse) {
  const input = impulse.inputBlocks[0];
  const dsp = impulse.dspBlocks[0];
  const samples = Math.round((input.windowSizeMs / 1000) * input.frequencyHz);
  const ram = 4 * samples * dsp.axes.length * 2 + 1024;
  return DEVICES.map((d) => ({ mcu: d.mcu, latency: d.dspMs, ram }));
}

module.exports = { DEVICES, onDevicePerformance, dspPerformance, shape, engines };
