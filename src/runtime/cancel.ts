// Cancellation of long GPU work: work already submitted cannot be recalled, so long jobs submit in pieces and
// check the caller's AbortSignal between them (issue 11: Stop within 1 s). Without a signal nothing changes.
import type { Gpu } from './device.js';
import type { Recorder } from './recorder.js';

/** The signal's reason (an AbortError DOMException when none was given). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/**
 * A cancellation point: with a signal, submit what `rec` holds, wait until the GPU has done it and throw if the
 * signal was aborted meanwhile. Pieces must be short enough that one finishes well within the latency wanted.
 */
export async function checkpointAbort(gpu: Gpu, rec: Recorder, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return;
  throwIfAborted(signal);
  rec.submit();
  await gpu.sync();
  throwIfAborted(signal);
}
