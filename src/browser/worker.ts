// Entry of the app's engine worker (a module Web Worker): the protocol's commands in, its events out.
import type { EngineCommand } from '../app/protocol.js';
import { WorkerEngine } from './worker-engine.js';

/** Message outside the protocol, for the end-to-end test of device-loss recovery (the page's __vilavtApp hook). */
export const LOSE_DEVICE_MESSAGE = '__vilavt_lose_device';

const scope = self as unknown as { postMessage(m: unknown): void; addEventListener(t: 'message', f: (m: MessageEvent) => void): void };
const engine = new WorkerEngine((e) => scope.postMessage(e));
scope.addEventListener('message', (m: MessageEvent<EngineCommand | typeof LOSE_DEVICE_MESSAGE>) => {
  if (m.data === LOSE_DEVICE_MESSAGE) engine.loseDevice();
  else engine.handle(m.data);
});
void engine.start();
