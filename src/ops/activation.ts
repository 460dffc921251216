// Activation ops (kernels/activation.wgsl): the gated MLP activation of every SwiGLU MLP and the exact-erf GELU
// of the vision patch merger.
import type { Gpu } from '../runtime/device.js';
import { ShapeError } from '../runtime/errors.js';
import { foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { actDtype, requireDistinct } from './checks.js';
import { streamLayout } from './layout.js';

/** out[M, I] = silu(gu[:, :I]) ⊙ gu[:, I:], from the fused gate/up projection gu [M, 2I]. */
export function siluMul(rec: Recorder, gpu: Gpu, gu: Tensor, out: Tensor): void {
  const dtype = actDtype(gpu, 'siluMul', gu, out);
  if (gu.shape.length !== 2 || out.shape.length !== 2) {
    throw new ShapeError(`siluMul: gu [${gu.shape}] and out [${out.shape}] must be 2-D`);
  }
  const [m, i] = out.shape as [number, number];
  if (gu.shape[0] !== m || gu.shape[1] !== 2 * i) {
    throw new ShapeError(`siluMul: gu [${gu.shape}] must be [${m}, ${2 * i}] for out [${out.shape}]`);
  }
  requireDistinct('siluMul', [out], [gu]);
  if (m * i === 0) return;
  const vec4 = i % 4 === 0;
  const cols = vec4 ? i / 4 : i;
  const { workgroup, perInvocation } = streamLayout(gpu);
  const pipe = gpu.pipeline('activation', {
    defines: { ACT_F16: dtype === 'f16', VEC4: vec4 }, constants: { WG: workgroup, PER: perInvocation },
  });
  const items = m * cols;
  rec.dispatch(pipe, [u32(items), u32(cols), u32(0)], [gu, out],
    foldWorkgroups(Math.ceil(items / (perInvocation * workgroup))));
}

/** y = GELU(x) with the exact erf, element-wise; y may be x itself (in place). */
export function gelu(rec: Recorder, gpu: Gpu, x: Tensor, y: Tensor): void {
  const dtype = actDtype(gpu, 'gelu', x, y);
  if (x.numel !== y.numel) throw new ShapeError(`gelu: x [${x.shape}] and y [${y.shape}] differ in size`);
  const inPlace = x.part.buffer === y.part.buffer;
  if (inPlace && x.part.byteOffset !== y.part.byteOffset) {
    throw new ShapeError('gelu: x and y overlap in one buffer at different offsets');
  }
  const n = x.numel;
  const { workgroup, perInvocation } = streamLayout(gpu);
  // Four elements per item over the first n - n % 4, then (rarely) a scalar pass over the last few.
  const body = n - (n % 4);
  const passes: [vec4: boolean, first: number, end: number][] = [[true, 0, body / 4], [false, body, n]];
  for (const [vec4, first, end] of passes) {
    if (end <= first) continue;
    const pipe = gpu.pipeline('activation', {
      defines: { ACT_F16: dtype === 'f16', GELU: true, IN_PLACE: inPlace, VEC4: vec4 },
      constants: { WG: workgroup, PER: perInvocation },
    });
    rec.dispatch(pipe, [u32(end), u32(0), u32(first)], inPlace ? [x] : [x, y],
      foldWorkgroups(Math.ceil((end - first) / (perInvocation * workgroup))));
  }
}
