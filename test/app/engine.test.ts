// The app's engine protocol plumbing: Engine routes each command's events to its caller and settles its promise
// from the terminal reply; the JSON transport round-trips binary fields.
import { describe, expect, test } from 'vitest';
import { Engine, EngineCommandError } from '../../src/app/engine.js';
import { fromJsonWire, toJsonWire, type EngineClient, type EngineCommand, type EngineEvent } from '../../src/app/protocol.js';

/** An engine on the other side of a fake wire: the test plays the engine by emitting events. */
function fakeClient(): EngineClient & { sent: EngineCommand[]; emit(e: EngineEvent): void; closed: boolean } {
  const listeners = new Set<(e: EngineEvent) => void>();
  const c = {
    sent: [] as EngineCommand[],
    closed: false,
    send(cmd: EngineCommand) { c.sent.push(cmd); },
    listen(l: (e: EngineEvent) => void) { listeners.add(l); return () => listeners.delete(l); },
    close() { c.closed = true; },
    emit(e: EngineEvent) { for (const l of listeners) l(e); },
  };
  return c;
}

describe('Engine (request/reply over an EngineClient)', () => {
  test('routes events by command id and settles each command from its own reply', async () => {
    const wire = fakeClient();
    const engine = new Engine(wire);
    const progress: number[] = [];
    const chat: string[] = [];
    const loading = engine.load({ kind: 'url', url: '/m/' }, {}, { onProgress: (p) => progress.push(p.bytesDone) });
    const asking = engine.ask({ question: 'q', images: [] }, (e) => chat.push(e.type));
    const [load, ask] = wire.sent as [Extract<EngineCommand, { type: 'load' }>, Extract<EngineCommand, { type: 'ask' }>];
    expect(load.type).toBe('load');
    expect(ask.type).toBe('ask');
    expect(load.id).not.toBe(ask.id);
    const p = { phase: 'downloading' as const, bytesTotal: 10, tensorsDone: 0, tensorsTotal: 3, bytesPerSecond: null, etaSeconds: null, detail: '' };
    wire.emit({ type: 'progress', id: load.id, progress: { ...p, bytesDone: 4 } });
    wire.emit({ type: 'chat', id: ask.id, event: { type: 'token', call: 0, text: 'hi' } });
    wire.emit({ type: 'progress', id: 999, progress: { ...p, bytesDone: 7 } }); // another command's: ignored
    wire.emit({ type: 'failed', id: ask.id, command: 'ask', error: { kind: 'aborted', message: 'stopped' } });
    const model = { source: 'network' as const, loadMs: 5, name: 'm', cacheKey: 'k', description: '', activations: 'f32' as const, weightBytes: 10, warnings: [], system: 'vilavt' as const };
    wire.emit({ type: 'done', id: load.id, command: 'load', result: model });
    await expect(loading).resolves.toEqual(model);
    const err = await asking.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineCommandError);
    expect((err as EngineCommandError).kind).toBe('aborted');
    expect(progress).toEqual([4]);
    expect(chat).toEqual(['token']);
  });

  test('hello and device_lost reach their hooks; close rejects what is pending', async () => {
    const wire = fakeClient();
    const engine = new Engine(wire);
    const lost: string[] = [];
    engine.onDeviceLost = (m) => lost.push(m);
    const info = engine.info();
    wire.emit({ type: 'hello', info: { protocol: 1, kind: 'worker', adapter: 'x', f16: false, sources: ['url'], cache: true } });
    await expect(info).resolves.toMatchObject({ adapter: 'x' });
    wire.emit({ type: 'device_lost', message: 'GPU device lost (destroyed)' });
    expect(lost).toEqual(['GPU device lost (destroyed)']);
    const pending = engine.listModels();
    engine.close();
    await expect(pending).rejects.toThrow(/closed/);
    expect(wire.closed).toBe(true);
  });
});

describe('JSON transport', () => {
  test('Uint8Array fields survive JSON text both ways, other values unchanged', () => {
    const bytes = Uint8Array.from({ length: 33000 }, (_, i) => (i * 2654435761) >>> 24);
    const cmd: EngineCommand = { type: 'ask', id: 3, request: { question: 'é?', images: [{ name: 'a.png', bytes }], sampling: { seed: 1, greedy: true } } };
    const text = JSON.stringify(toJsonWire(cmd));
    expect(text).not.toContain('"0":'); // not the object form JSON gives a typed array
    const back = fromJsonWire<EngineCommand>(JSON.parse(text));
    expect(back).toEqual(cmd);
    expect((back as typeof cmd).request.images[0]!.bytes).toBeInstanceOf(Uint8Array);
  });
});
