import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseGenerationConfig,
  parseModelConfig,
  parsePreprocessorConfig,
  qaBlocksFor,
} from '../../src/model/config.js';
import { ConfigError } from '../../src/model/errors.js';

const load = (p: string) => JSON.parse(readFileSync(new URL(p, import.meta.url), 'utf8')) as Record<string, any>;
const tinyA = () => load('../fixtures/golden/tiny-a/checkpoint/config.json');
const big = () => load('../fixtures/vilavt-7b/config.json');

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseModelConfig', () => {
  it('tiny-a: values from the golden README', () => {
    const c = parseModelConfig(tinyA());
    expect(c.arch).toBe('vilavt');
    expect(c.llm).toMatchObject({
      hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 16, vocab: 320,
      mropeSection: [2, 3, 3], tieEmbeddings: false, rmsEps: 1e-6, ropeTheta: 1e6,
      bosTokenId: 300, eosTokenIds: [302], imageTokenId: 312, videoTokenId: 313, visionStartTokenId: 309, visionEndTokenId: 310,
    });
    expect(c.vision).toMatchObject({
      hidden: 32, depth: 4, heads: 2, headDim: 16, intermediate: 64, windowSize: 56, fullattBlocks: [1, 3],
      integrationPoint: 'late', qaBlocks: [2, 3], outHidden: 64, patchSize: 14, temporalPatchSize: 2, mergeSize: 2,
    });
    expect(c.textEncoder).toMatchObject({ hidden: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediate: 64, vocab: 320 });
    expect(c.textProj).toEqual({ inDim: 32, outDim: 32 });
    expect(c.specialTokens?.['<|image_pad|>']).toBe(312);
  });

  it('ViLaVT-7B: MODEL.md §1.4/§1.5 values', () => {
    const c = parseModelConfig(big());
    expect(c.llm).toMatchObject({ hidden: 3584, intermediate: 18944, layers: 28, heads: 28, kvHeads: 4, headDim: 128, vocab: 152064, mropeSection: [16, 24, 24], tieEmbeddings: false });
    expect(c.vision).toMatchObject({ depth: 32, hidden: 1280, heads: 16, headDim: 80, intermediate: 3420, windowSize: 112, outHidden: 3584, fullattBlocks: [7, 15] });
    expect(c.vision.qaBlocks).toEqual(Array.from({ length: 16 }, (_, i) => 16 + i));
    expect(c.textEncoder).toMatchObject({ hidden: 1024, layers: 28, heads: 16, kvHeads: 8, headDim: 128, intermediate: 3072, vocab: 151669 });
    expect(c.textProj).toEqual({ inDim: 1024, outDim: 1280 });
  });

  it('integration_point table (MODEL.md §1.4, depth 32)', () => {
    const r = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
    const full = [7, 15, 23, 31];
    expect(qaBlocksFor('all', 32, full)).toEqual(r(0, 31));
    expect(qaBlocksFor('early', 32, full)).toEqual(r(0, 15));
    expect(qaBlocksFor('late', 32, full)).toEqual(r(16, 31));
    expect(qaBlocksFor('late2', 32, full)).toEqual(r(24, 31));
    expect(qaBlocksFor('late3', 32, full)).toEqual(r(8, 31));
    expect(qaBlocksFor('sparse', 32, full)).toEqual(full);
    expect(qaBlocksFor('none', 32, full)).toEqual([]);
    expect(qaBlocksFor('late2', 4, [])).toEqual([3]); // 3 * depth // 4 (modeling code), here 3
  });

  it('plain qwen2_5_vl: no text encoder, no QA blocks', () => {
    const j = big();
    j.model_type = 'qwen2_5_vl';
    delete j.text_encoder_config;
    delete j.vision_config.integration_point;
    const c = parseModelConfig(j);
    expect(c.arch).toBe('qwen2_5_vl');
    expect(c.vision.qaBlocks).toEqual([]);
    expect(c.textEncoder).toBeUndefined();
    expect(c.textProj).toBeUndefined();
    j.vision_config.integration_point = 'late';
    expect(configError(() => parseModelConfig(j)).message).toMatch(/config\.json: vision_config\.integration_point: "late" needs a text encoder/);
  });

  it('qwen2_5_vl model_type with a text_encoder_config (cold-start checkpoint) is ViLaVT', () => {
    const j = big();
    j.model_type = 'qwen2_5_vl';
    expect(parseModelConfig(j).arch).toBe('vilavt');
  });

  it('LLM fields only in text_config, or only at the top level', () => {
    const onlyText = tinyA();
    for (const k of Object.keys(onlyText.text_config)) if (k !== 'model_type') delete onlyText[k];
    expect(parseModelConfig(onlyText).llm.hidden).toBe(64);
    const onlyTop = tinyA();
    delete onlyTop.text_config;
    expect(parseModelConfig(onlyTop).llm.layers).toBe(2);
  });

  it('errors name the file and the field', () => {
    const disagree = tinyA();
    disagree.text_config.hidden_size = 128;
    expect(configError(() => parseModelConfig(disagree)).message).toBe(
      'config.json: hidden_size: top level (64) and text_config (128) disagree',
    );
    // members the parser does not read may differ (rope_type), and eos ids are merged
    const loose = tinyA();
    delete loose.rope_scaling.rope_type;
    loose.text_config.eos_token_id = [302, 300];
    expect(parseModelConfig(loose).llm.eosTokenIds).toEqual([302, 300]);
    loose.text_config.rope_scaling.mrope_section = [3, 3, 2];
    expect(configError(() => parseModelConfig(loose)).field).toBe('rope_scaling.mrope_section');
    const noDepth = tinyA();
    delete noDepth.vision_config.depth;
    expect(configError(() => parseModelConfig(noDepth, 'x/config.json')).message).toBe('x/config.json: vision_config.depth: missing');
    const badMrope = tinyA();
    badMrope.rope_scaling.mrope_section = [2, 3, 4];
    badMrope.text_config.rope_scaling.mrope_section = [2, 3, 4];
    expect(configError(() => parseModelConfig(badMrope)).message).toMatch(/rope_scaling\.mrope_section: 2\*sum\(\[2,3,4\]\) must equal head_dim 16/);
    const badIp = tinyA();
    badIp.vision_config.integration_point = 'middle';
    expect(configError(() => parseModelConfig(badIp)).field).toBe('vision_config.integration_point');
    const noTe = tinyA();
    delete noTe.text_encoder_config;
    expect(configError(() => parseModelConfig(noTe)).message).toMatch(/text_encoder_config: missing \(required for vilavt\)/);
    expect(configError(() => parseModelConfig({ ...tinyA(), model_type: 'llama' })).field).toBe('model_type');
    const negHeads = tinyA();
    negHeads.text_encoder_config.num_attention_heads = -4;
    expect(configError(() => parseModelConfig(negHeads)).message).toMatch(/text_encoder_config\.num_attention_heads: expected an integer >= 1, got -4/);
    const gelu = tinyA();
    gelu.vision_config.hidden_act = 'gelu';
    expect(configError(() => parseModelConfig(gelu)).field).toBe('vision_config.hidden_act');
  });
});

describe('generation and preprocessor configs', () => {
  it('generation_config eos lists', () => {
    expect(parseGenerationConfig(load('../fixtures/golden/tiny-a/checkpoint/generation_config.json'))).toMatchObject({
      eosTokenIds: [302, 300], bosTokenId: 300, padTokenId: 300,
    });
    expect(parseGenerationConfig(load('../fixtures/vilavt-7b/generation_config.json')).eosTokenIds).toEqual([151645, 151643]);
    expect(parseGenerationConfig({ eos_token_id: 7 }).eosTokenIds).toEqual([7]);
    expect(configError(() => parseGenerationConfig({})).message).toBe('generation_config.json: eos_token_id: missing');
  });

  it('preprocessor_config', () => {
    const p = parsePreprocessorConfig(load('../fixtures/golden/tiny-a/checkpoint/preprocessor_config.json'));
    expect(p).toEqual({
      imageMean: [0.48145466, 0.4578275, 0.40821073],
      imageStd: [0.26862954, 0.26130258, 0.27577711],
      minPixels: 3136,
      maxPixels: 12845056,
      patchSize: 14,
      temporalPatchSize: 2,
      mergeSize: 2,
      rescaleFactor: 0.00392156862745098,
    });
    const sized: Record<string, any> = { ...load('../fixtures/golden/tiny-a/checkpoint/preprocessor_config.json'), size: { shortest_edge: 100, longest_edge: 200 } };
    delete sized.min_pixels;
    delete sized.max_pixels;
    expect(parsePreprocessorConfig(sized)).toMatchObject({ minPixels: 100, maxPixels: 200 });
    expect(configError(() => parsePreprocessorConfig({ ...sized, image_std: [1, 0, 1] })).field).toBe('image_std');
  });
});
