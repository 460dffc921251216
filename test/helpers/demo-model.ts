// Session-level tests on the demo assets (test/helpers/demo.ts): a demo checkpoint loaded on the test GPU with its
// tokenizers and sample image (reading the events: chat-events.ts).
import { join } from 'node:path';
import { VilavtModel } from '../../src/model/vilavt-model.js';
import { openCheckpointDir } from '../../src/platform/node-file.js';
import { decodeImageFile } from '../../src/platform/node-image.js';
import { loadTokenizerDir } from '../../src/platform/node-tokenizer.js';
import type { DecodedImage } from '../../src/preprocess/image.js';
import type { Gpu } from '../../src/runtime/device.js';
import type { TextAssets } from '../../src/text/tokenizer-files.js';
import { demoDir } from './demo.js';
import { getGpu } from './gpu.js';

export interface DemoModel {
  /** The demo assets folder (replay files, sample.png, the checkpoints). */
  dir: string;
  gpu: Gpu;
  /** Loaded with f32 activations; the caller destroys it. */
  model: VilavtModel;
  text: TextAssets;
  sample: DecodedImage;
}

/** The ViLaVT demo `checkpoint` or the plain qwen2_5_vl `plain-checkpoint`, loaded. */
export async function loadDemoModel(name: 'checkpoint' | 'plain-checkpoint'): Promise<DemoModel> {
  const dir = await demoDir();
  const gpu = await getGpu();
  const text = await loadTokenizerDir(join(dir, name));
  const model = await VilavtModel.load(gpu, await openCheckpointDir(join(dir, name)), { activations: 'f32' });
  return { dir, gpu, model, text, sample: await decodeImageFile(join(dir, 'sample.png')) };
}
