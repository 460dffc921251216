// A server over a checkpoint folder: load the model, size the conversation store from the memory budget, listen.
import type { ServeArgs } from '../cli/serve.js';
import { loadModelDir, type LoadedModel } from '../cli/load-model.js';
import { ChatSession } from '../chat/session.js';
import { decodeImageBuffer, encodePng } from '../platform/node-image.js';
import { formatBytes } from '../util/format.js';
import { VilavtServer, type ServerEngine, type ServerOptions } from './server.js';

/** Kept conversations at most, whatever the budget (each also keeps its images and driver state in host memory). */
const MAX_KEPT = 64;

export interface RunningServer {
  url: string;
  server: VilavtServer;
  close(): Promise<void>;
}

/**
 * The engine of a loaded model, and how many finished conversations the KV-cache budget keeps. With `reload`, the
 * engine recovers from a lost GPU device by loading the model again on a new one (`engine.recover`); `dispose`
 * releases whichever model is current.
 */
export function nodeEngine(m: LoadedModel, o: Pick<ServeArgs, 'name' | 'context' | 'maxPixels' | 'cacheMb'>, reload?: () => Promise<LoadedModel>):
  { engine: ServerEngine; maxConversations: number; dispose(): void } {
  let current = m;
  const { model, text } = m;
  const llm = model.config.llm;
  const contextLength = Math.min(o.context ?? 32768, llm.maxPositionEmbeddings);
  // Every conversation owns a KV cache of this size (keys and values, every layer, activation dtype).
  const sessionBytes = 2 * llm.layers * contextLength * llm.kvHeads * llm.headDim * (model.act === 'f16' ? 2 : 4);
  const maxConversations = Math.min(MAX_KEPT, Math.max(0, Math.floor((o.cacheMb * 1024 * 1024) / sessionBytes) - 1)); // less the running one
  const imageDecoder = { decode: (bytes: Uint8Array) => decodeImageBuffer(bytes, { maxPixels: o.maxPixels }) };
  const info = ({ gpu, model, loadMs }: LoadedModel): ServerEngine['info'] => ({
    adapter: [gpu.adapter.vendor, gpu.adapter.architecture, gpu.adapter.description].filter(Boolean).join(' / ') || 'unknown adapter',
    f16: gpu.features.f16, activations: model.act, loadMs,
    description: `LLM ${llm.layers} layers × ${llm.hidden}, ${model.act} activations, ${formatBytes(model.weights.bytes)} of weights on the GPU`,
    weightBytes: model.weights.bytes,
  });
  const engine: ServerEngine = {
    modelId: o.name,
    newSession: () => new ChatSession({
      gpu: current.gpu, model: current.model, tokenizer: text.tokenizer, inquiryTokenizer: text.inquiry, chatTemplate: text.chatTemplate,
      imageDecoder, contextLength,
    }),
    encodePng,
    info: info(m),
  };
  if (reload) {
    engine.recover = async () => {
      const lost = current;
      current = await reload();
      engine.info = info(current);
      lost.model.destroy(); // its buffers died with the device; this only drops the engine's records of them
    };
  }
  return { engine, maxConversations, dispose: () => current.model.destroy() };
}

export async function startServer(a: ServeArgs, extra: Pick<ServerOptions, 'site'> = {}): Promise<RunningServer> {
  const loaded = await loadModelDir(a.model, { f16: a.f16 });
  const { engine, maxConversations, dispose } = nodeEngine(loaded, a, () => loadModelDir(a.model, { f16: a.f16 }));
  const server = new VilavtServer({
    engine,
    apiKey: a.apiKey,
    limits: { maxBodyBytes: a.maxBodyBytes, maxImageBytes: a.maxImageBytes, maxImages: a.maxImages, allowFiles: a.allowFiles },
    maxQueue: a.queue,
    maxConversations,
    ...extra,
  });
  let url: string;
  try {
    url = await server.listen(a.port, a.host);
  } catch (e) {
    dispose();
    throw e;
  }
  return {
    url, server,
    close: async () => {
      await server.close();
      dispose();
    },
  };
}
