// RMSNorm ops (kernels/rmsnorm.wgsl): the pre-norms of every block, fused with the residual add, and the
// per-head q/k norms of the Qwen3 text encoder.
import type { Gpu } from '../runtime/device.js';
import { ShapeError } from '../runtime/errors.js';
import { f32, foldWorkgroups, u32, type Recorder } from '../runtime/recorder.js';
import type { Tensor } from '../runtime/tensor.js';
import { actDtype, requireDistinct, requireDtype, requirePositiveInt } from './checks.js';
import { checkView, type StridedView } from './view.js';

/** Workgroup size: small vectors (head dims) do not need 256 invocations. Powers of two only. */
function workgroupFor(dim: number): number {
  return dim <= 128 ? 64 : 256;
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
  const wg = workgroupFor(d);
  const pipe = gpu.pipeline('rmsnorm', { defines: { ACT_F16: dtype === 'f16', RESIDUAL: !!r }, constants: { WG: wg } });
  const params = [u32(m), u32(1), u32(d), u32(d), u32(0), f32(eps)];
  rec.dispatch(pipe, params, r ? [x, r, w, y] : [x, w, y], foldWorkgroups(m));
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
  const wg = workgroupFor(headDim);
  const pipe = gpu.pipeline('rmsnorm', { defines: { ACT_F16: dtype === 'f16', IN_PLACE: true }, constants: { WG: wg } });
  const params = [u32(rows * heads), u32(heads), u32(headDim), u32(view.stride), u32(view.offset), f32(eps)];
  rec.dispatch(pipe, params, [view.t, w], foldWorkgroups(rows * heads));
}
