// Inputs `npm run fuzz` found that crashed or stalled the engine (reproducers, minimized by hand from fuzz-out/):
// each must now end in the product's typed error or the reference's own recovery, quickly.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { DeepEyesDriver } from '../../src/chat/deepeyes.js';
import { ChatError } from '../../src/chat/errors.js';
import { parseReplayFile } from '../../src/chat/replay-file.js';
import { parseAwqConfig } from '../../src/model/awq.js';
import { bytesSource } from '../../src/model/byte-source.js';
import { openCheckpoint } from '../../src/model/checkpoint.js';
import { parseGenerationConfig, parseModelConfig } from '../../src/model/config.js';
import { CheckpointError, ConfigError } from '../../src/model/errors.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import { decodeImageBuffer } from '../../src/platform/node-image.js';
import { ImageError } from '../../src/preprocess/errors.js';
import { checkPngSizeBound } from '../../src/preprocess/png.js';
import { decodeJpegSamples } from '../../src/preprocess/jpeg.js';
import { checkpointFiles } from '../../scripts/fuzz/targets/checkpoint-files.js';
import { repairPngCrcs } from '../../scripts/fuzz/targets/image-decode.js';
import { tinyImage } from '../../scripts/fuzz/targets/tool-call.js';

/** JSON text of a list nested `depth` levels (past V8's JSON.stringify recursion at ~10k). */
const deepText = (depth: number) => '['.repeat(depth) + '1' + ']'.repeat(depth);
const DEPTH = 100_000;

function safetensorsWithHeader(header: string): Uint8Array {
  const hb = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + hb.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  return out;
}

describe('deeply nested JSON values in files end in typed errors (was RangeError: Maximum call stack size exceeded)', () => {
  it('generation_config.json: bos_token_id nested 100k deep', () => {
    const json = JSON.parse(`{"eos_token_id": 1, "bos_token_id": ${deepText(DEPTH)}}`);
    expect(() => parseGenerationConfig(json)).toThrow(ConfigError);
    expect(() => parseGenerationConfig(json)).toThrow(/bos_token_id: expected an integer >= 0, got \[\[\[.*…$/);
  });

  it('config.json: a field at the top level and in text_config, both nested 100k deep', () => {
    const cfg = JSON.parse(new TextDecoder().decode(checkpointFiles().find((f) => f.name === 'config.json')!.bytes));
    const top = JSON.parse(deepText(DEPTH));
    cfg.text_config = { ...(cfg.text_config ?? {}), hidden_size: JSON.parse(deepText(DEPTH)) };
    cfg.hidden_size = top;
    expect(() => parseModelConfig(cfg)).toThrow(ConfigError);
  });

  it('safetensors header: shape nested 100k deep', async () => {
    const bytes = safetensorsWithHeader(`{"w": {"dtype": "F32", "shape": ${deepText(DEPTH)}, "data_offsets": [0, 0]}}`);
    await expect(SafetensorsFile.open(bytesSource(bytes, 'model.safetensors'))).rejects.toThrow(CheckpointError);
  });

  it('model.safetensors.index.json: a shard name nested 100k deep', async () => {
    const files = checkpointFiles().map((f) =>
      f.name === 'model.safetensors.index.json' ? { ...f, bytes: new TextEncoder().encode(`{"weight_map": {"lm_head.weight": ${deepText(DEPTH)}}}`) } : f);
    await expect(openCheckpoint(files.map((f) => ({ name: f.name, source: bytesSource(f.bytes, f.name) })))).rejects.toThrow(CheckpointError);
  });

  it('replay file: finish_reason nested 100k deep', () => {
    expect(() => parseReplayFile(`[{"text": "a", "finish_reason": ${deepText(DEPTH)}}]`, 'r.json')).toThrow(ChatError);
  });

  it('quantization_config: quant_method and version nested 100k deep (String() of a list recursed)', () => {
    const q = JSON.parse(`{"quant_method": ${deepText(DEPTH)}, "version": ${deepText(DEPTH)}, "bits": 4, "group_size": 128}`);
    const r = parseAwqConfig(q);
    expect('problem' in r && r.problem).toMatch(/quant_method \[\[\[.*…/);
  });
});

describe('layer counts of 2^31 - 1 in config.json (the process ran out of memory enumerating per-layer tensors)', () => {
  const config = () => JSON.parse(new TextDecoder().decode(checkpointFiles().find((f) => f.name === 'config.json')!.bytes));
  it('vision_config.depth, num_hidden_layers (top level and text_config), text_encoder_config.num_hidden_layers: ConfigError', () => {
    const a = config();
    a.vision_config.depth = 2 ** 31 - 1;
    expect(() => parseModelConfig(a)).toThrow(/vision_config\.depth: 2147483647 layers is more than any supported model has \(at most 1024\)/);
    const b = config();
    b.num_hidden_layers = 2 ** 31 - 1;
    if (b.text_config) b.text_config.num_hidden_layers = 2 ** 31 - 1;
    expect(() => parseModelConfig(b)).toThrow(/num_hidden_layers: 2147483647 layers/);
    const c = config();
    c.text_encoder_config.num_hidden_layers = 2 ** 31 - 1;
    expect(() => parseModelConfig(c)).toThrow(/text_encoder_config\.num_hidden_layers: 2147483647 layers/);
  });
});

describe('huge safetensors headers', () => {
  /** A truncated file: `n` one-byte tensors listed, no data section (every tensor past the end). */
  function manyTensors(n: number): Uint8Array {
    const entries = Array.from({ length: n }, (_, i) => `"t${i}":{"dtype":"U8","shape":[1],"data_offsets":[${i},${i + 1}]}`);
    return safetensorsWithHeader(`{${entries.join(',')}}`);
  }

  // 160,000: past V8's limit on spread arguments (between 125,000 and 150,000 here).
  it('160,000 tensors past the end of the data: one truncation problem (was RangeError from Math.max(...list))', async () => {
    const err = await SafetensorsFile.open(bytesSource(manyTensors(160_000), 'model.safetensors')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).message).toMatch(/truncated: the header places tensor data up to byte 160000 .* \(160000 tensor\(s\) past the end, first t0\)/);
  });

  it('a shard with 160,000 bad entries opened through the index (was RangeError from push(...problems))', async () => {
    const entries = Array.from({ length: 160_000 }, (_, i) => `"t${i}":{"dtype":"X","shape":[1],"data_offsets":[0,1]}`);
    const shard = safetensorsWithHeader(`{${entries.join(',')}}`);
    const first = checkpointFiles().find((f) => f.name.endsWith('.safetensors'))!.name;
    const files = checkpointFiles().map((f) => (f.name === first ? { ...f, bytes: shard } : f));
    const err = await openCheckpoint(files.map((f) => ({ name: f.name, source: bytesSource(f.bytes, f.name) }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).problems.length).toBeGreaterThanOrEqual(160_000);
  });
});

describe('DeepEyes turns', () => {
  const image = tinyImage(64, 48, 3);
  const settings = { serverMinPixels: 3136, serverMaxPixels: 4 * 3136, cropMinPixels: 3136, cropMaxPixels: 4 * 3136 };
  const respond = (text: string) => {
    const d = new DeepEyesDriver({ images: [{ image, name: 'a.png' }], question: 'Which colour?', options: ['red', 'blue'] }, settings);
    d.nextCall();
    return d.respond({ text });
  };

  it('a body eval() would run but the port does not model is a ChatError naming the body (was an untyped Error)', () => {
    for (const body of ['print(1)', '{1, 2}', "b'x'", '3j', '2**5000 ** 2']) {
      expect(() => respond(`<tool_call>${body}</tool_call>`)).toThrow(ChatError);
    }
    expect(() => respond('<tool_call>print(1)</tool_call>')).toThrow(/DeepEyes: the <tool_call> body "print\(1\)": python expression not supported/);
  });

  it('a sliver whose nominal size smart_resizes to a zero side ends the sample like Pillow\'s ValueError (was an ImageError thrown out)', () => {
    const events = respond('<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [59, 0.484, 65535, 0.563]}}</tool_call>');
    expect(events).toEqual([{ type: 'tool_error', call: 0, error: 'ValueError: height and width must be > 0', feedback: null }]);
  });
});

describe('PNG whose header claims more pixels than its bytes can hold', () => {
  /** The reproducer: a 12x9 RGBA PNG made by sharp whose IHDR width was mutated to 8,388,620 (CRC repaired). */
  async function widePng(): Promise<Uint8Array> {
    const src = await sharp(Uint8Array.from({ length: 12 * 9 * 4 }, (_, i) => (i * 37) & 255), { raw: { width: 12, height: 9, channels: 4 } }).png().toBuffer();
    const b = new Uint8Array(src);
    new DataView(b.buffer).setUint32(16, 8_388_620);
    return repairPngCrcs(b);
  }

  it('is refused before decoding, in milliseconds (libvips took ~5 s to fail on it)', async () => {
    const b = await widePng();
    const t0 = performance.now();
    await expect(decodeImageBuffer(b)).rejects.toThrow(ImageError);
    await expect(decodeImageBuffer(b)).rejects.toThrow(/PNG of 8388620x9 pixels needs .* bytes of scanlines, more than its \d+ bytes can hold/);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('the bound never refuses a valid PNG, even one compressed near deflate\'s limit', async () => {
    const flat = await sharp({ create: { width: 4000, height: 4000, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png({ compressionLevel: 9 }).toBuffer();
    expect(() => checkPngSizeBound(new Uint8Array(flat))).not.toThrow();
    expect((await decodeImageBuffer(new Uint8Array(flat))).width).toBe(4000);
  });
});

describe('BMP RLE4 file of 158 bytes claiming 16,842,765 x 1 pixels (test/fixtures/fuzz, from npm run fuzz)', () => {
  it('decodes within the fuzzers\' 1 s of CPU time, the end-of-line code filling the row with palette entry 0', async () => {
    const b = new Uint8Array(readFileSync('test/fixtures/fuzz/rle4-16842765x1.bmp'));
    const c0 = process.cpuUsage();
    const img = await decodeImageBuffer(b);
    const cpu = process.cpuUsage(c0);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(1000);
    expect([img.width, img.height, img.channels]).toEqual([16_842_765, 1, 3]);
    // Palette entry 0 is stored B,G,R at offset 54; the last pixel lies past the end-of-line code.
    expect([...img.data.subarray(img.data.length - 3)]).toEqual([b[56], b[55], b[54]]);
  });
});

describe('JPEG decoder in code (browser path)', () => {
  it('an empty scan header (SOS of length 2) is ImageError "bad scan header" (was TypeError reading blocksW)', () => {
    const b = new Uint8Array(readFileSync('test/fixtures/fuzz/jpeg-empty-scan-header.jpg'));
    expect(b.length).toBe(25);
    expect(() => decodeJpegSamples(b)).toThrow(ImageError);
    expect(() => decodeJpegSamples(b)).toThrow(/bad scan header/);
  });
});
