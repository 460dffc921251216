// RMSNorm ops (kernels/rmsnorm.wgsl): the pre-norms of every block, fused with the residual add, and the
// per-head q/k norms of the Qwen3 text encoder.
import type { Gpu } from '../runtime/device.js';
import { ShapeError } from '../runtime/errors.js';
import { f32, foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { actDtype, requireDistinct, requireDtype, requirePositiveInt } from './checks.js';
import { CPU_UNIT_WORKGROUP } from './layout.js';
import { checkView, type StridedView } from './view.js';

/**
 * One dispatch of kernels/rmsnorm.wgsl over `units` vectors of `dim` elements (unit u: head u % heads of row
 * u / heads, at row * stride + offset + head * dim). Vectors of 4 when every address is a multiple of 4.
 * CPU adapters: one invocation per group of up to 4 heads of a row. GPUs: one workgroup per unit (small vectors
 * such as head dims do not need 256 invocations).
 */
function dispatchNorm(rec: Recorder, gpu: Gpu, dtype: 'f32' | 'f16', variant: { RESIDUAL?: boolean; IN_PLACE?: boolean },
  units: number, heads: number, dim: number, stride: number, offset: number, eps: number, bindings: Tensor[]): void {
  const vec4 = dim % 4 === 0 && stride % 4 === 0 && offset % 4 === 0;
  const k = vec4 ? 4 : 1;
  const coop = !gpu.cpuLayout;
  const items = dim / k;
  const wg = !coop ? CPU_UNIT_WORKGROUP : items <= 32 ? 32 : items <= 64 ? 64 : 256;
  const pipe = gpu.pipeline('rmsnorm', {
    defines: { ACT_F16: dtype === 'f16', VEC4: vec4, COOP: coop, ...variant }, constants: { WG: wg },
  });
  const params = [u32(units), u32(heads), u32(dim / k), u32(stride / k), u32(offset / k), f32(eps), f32(dim)];
  // COOP: a workgroup per unit; otherwise an invocation per group of up to 4 heads of a row.
  const groups = coop ? units : (units / heads) * Math.ceil(heads / 4);
  rec.dispatch(pipe, params, bindings, foldWorkgroups(coop ? groups : Math.ceil(groups / wg)));
}

function checkEps(eps: number, what: string): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ShapeError(`${what}: eps must be finite and >= 0, got ${eps}`);
}

/**
 * y = x · rsqrt(mean(x²) + eps) · w over the rows of x [M, D]. With `residual` r [M, D], first x ← x + r (in place;
 * x is the residual stream) and the norm is taken of the stored sum.
 */
export function rmsNorm(rec: Recorder, gpu: Gpu, x: Tensor, w: Tensor, y: Tensor, eps: number,
  opts: { residual?: Tensor } = {}): void {
  const r = opts.residual;
  const dtype = actDtype(gpu, 'rmsNorm', x, y, ...(r ? [r] : []));
  requireDtype(w, 'f32', 'rmsNorm weight');
  checkEps(eps, 'rmsNorm');
  if (x.shape.length !== 2) throw new ShapeError(`rmsNorm: x must be [M, D], got [${x.shape}]`);
  const [m, d] = x.shape as [number, number];
  requirePositiveInt(d, 'rmsNorm D');
  for (const [t, name] of [[y, 'y'], ...(r ? [[r, 'residual']] : [])] as [Tensor, string][]) {
    if (t.shape.length !== 2 || t.shape[0] !== m || t.shape[1] !== d) {
      throw new ShapeError(`rmsNorm: ${name} [${t.shape}] does not match x [${x.shape}]`);
    }
  }
  if (w.numel !== d) throw new ShapeError(`rmsNorm: weight has ${w.numel} elements, D is ${d}`);
  if (r) requireDistinct('rmsNorm', [x, y], [r, w]);
  else requireDistinct('rmsNorm', [y], [x, w]);
  if (m === 0) return;
  dispatchNorm(rec, gpu, dtype, { RESIDUAL: !!r }, m, 1, d, d, 0, eps, r ? [x, r, w, y] : [x, w, y]);
}

/**
 * In-place RMSNorm of each head of each row of a strided view (Qwen3 q_norm / k_norm): head h of row r is the
 * `headDim` elements at r*stride + offset + h*headDim, normalised with the shared weight w [headDim].
 */
export function headRmsNorm(rec: Recorder, gpu: Gpu, view: StridedView, heads: number, headDim: number,
  rows: number, w: Tensor, eps: number): void {
  const dtype = actDtype(gpu, 'headRmsNorm', view.t);
  requireDtype(w, 'f32', 'headRmsNorm weight');
  checkEps(eps, 'headRmsNorm');
  requirePositiveInt(heads, 'headRmsNorm heads');
  requirePositiveInt(headDim, 'headRmsNorm headDim');
  if (!Number.isInteger(rows) || rows < 0) throw new ShapeError(`headRmsNorm: bad row count ${rows}`);
  if (w.numel !== headDim) throw new ShapeError(`headRmsNorm: weight has ${w.numel} elements, headDim is ${headDim}`);
  checkView(view, rows, heads * headDim, 'headRmsNorm');
  requireDistinct('headRmsNorm', [view.t], [w]);
  if (rows === 0) return;
  dispatchNorm(rec, gpu, dtype, { IN_PLACE: true }, rows * heads, heads, headDim, view.stride, view.offset, eps, [view.t, w]);
}
