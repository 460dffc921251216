// Every fuzzer `npm run fuzz` knows, in the order it runs them.
import type { Fuzzer } from './runner.js';
import { configFuzzer } from './targets/config.js';
import { deepEyesCallFuzzer } from './targets/deepeyes-call.js';
import { imageDecodeFuzzer } from './targets/image-decode.js';
import { jpegDecodeFuzzer } from './targets/jpeg-decode.js';
import { pixelReasonerCallFuzzer } from './targets/pixelreasoner-call.js';
import { replayFileFuzzer } from './targets/replay-file.js';
import { safetensorsHeaderFuzzer } from './targets/safetensors-header.js';
import { safetensorsIndexFuzzer } from './targets/safetensors-index.js';
import { toolCallFuzzer } from './targets/tool-call.js';

export const FUZZERS: readonly Fuzzer[] = [
  safetensorsHeaderFuzzer,
  safetensorsIndexFuzzer,
  configFuzzer,
  toolCallFuzzer,
  deepEyesCallFuzzer,
  pixelReasonerCallFuzzer,
  replayFileFuzzer,
  imageDecodeFuzzer,
  jpegDecodeFuzzer,
];
