// The roofline of one piece of work on this adapter: the time it would take at best, given the paired ceilings
// of the same run, is max(bytes / stream_gbps, flops / fma_gflops) (bytes it must move at least; flops = 2 per
// multiply-add, dequantization not counted). fraction_of_roofline = attainable ÷ measured: 1 is at the ceiling,
// whichever of the two binds. One definition for every adapter: on lavapipe a 4-bit matrix-vector product is
// bound by arithmetic, on GPUs by bandwidth.

/** Attainable milliseconds of work moving `bytes` and doing `flops` at the given ceilings (GB/s, GFLOP/s). */
export function attainableMs(bytes: number, flops: number, streamGbps: number, fmaGflops: number): number {
  return Math.max(bytes / 1e6 / streamGbps, flops / 1e6 / fmaGflops);
}

/** Attainable ÷ measured for one timing taken next to the ceilings it is paired with. */
export function fractionOfRoofline(ms: number, bytes: number, flops: number, streamGbps: number, fmaGflops: number): number {
  return attainableMs(bytes, flops, streamGbps, fmaGflops) / ms;
}
