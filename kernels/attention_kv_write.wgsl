// Copy `rows` rows of width 4*W4 from a strided view (new, already rotated k or v rows) into a KV cache
// tensor [capacity, 4*W4] starting at row `at`. One lane per 4 elements.

struct P {
  rows: u32,
  w4: u32,          // row width in vec4 units
  src_stride: u32,  // vec4 units
  src_off: u32,
  at: u32,
}

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<act4>;
@group(0) @binding(2) var<storage, read_write> dst: array<act4>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= p.rows * p.w4) { return; }
  let r = i / p.w4;
  let c = i % p.w4;
  dst[(p.at + r) * p.w4 + c] = src[r * p.src_stride + p.src_off + c];
}
