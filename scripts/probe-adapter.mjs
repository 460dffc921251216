#!/usr/bin/env node
// Probe for a WebGPU adapter through Dawn (the `webgpu` npm package) and print what it is as JSON.
// Exit 0 with {found:true,...} when an adapter and a device can be obtained, exit 1 with {found:false,...} otherwise.
// Used by scripts/setup.sh to decide whether a software Vulkan driver (lavapipe) must be installed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Dawn's Vulkan loader path warns or misbehaves without a private runtime dir; it must be mode 0700.
if (!process.env.XDG_RUNTIME_DIR) {
  process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'xdg-rt-')); // mkdtemp creates it 0700
}

function fail(reason) {
  console.log(JSON.stringify({ found: false, reason }, null, 2));
  process.exit(1);
}

let webgpu;
try {
  webgpu = await import('webgpu');
} catch (err) {
  fail(`cannot load the 'webgpu' package (run npm ci): ${err instanceof Error ? err.message : String(err)}`);
}

// Module-level strong reference: dawn.node segfaults if the GPU object is garbage-collected while in use.
const gpu = webgpu.create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) fail('Dawn found no WebGPU adapter (no usable Vulkan driver)');

let device;
try {
  device = await adapter.requestDevice();
} catch (err) {
  fail(`adapter found but requestDevice failed: ${err instanceof Error ? err.message : String(err)}`);
}
device.destroy();

const info = adapter.info;
const limits = adapter.limits;
// Debian bookworm's own Mesa (22.x) lavapipe is too old for Dawn's WebGPU (setup installs 25.x from backports).
const mesa = /Mesa (\d+)\./.exec(`${info.description} ${info.driver ?? ''}`);
if (/llvmpipe/i.test(`${info.architecture} ${info.description}`) && mesa && Number(mesa[1]) < 24) {
  fail(`Mesa lavapipe ${mesa[1]}.x is too old for Dawn (needs Mesa >= 24): ${info.description}`);
}
console.log(JSON.stringify({
  found: true,
  vendor: info.vendor,
  architecture: info.architecture,
  device: info.device,
  description: info.description,
  isFallbackAdapter: Boolean(info.isFallbackAdapter),
  subgroupMinSize: info.subgroupMinSize,
  subgroupMaxSize: info.subgroupMaxSize,
  features: [...adapter.features].sort(),
  limits: {
    maxBufferSize: limits.maxBufferSize,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
  },
}, null, 2));
process.exit(0);
