// Replays the loop golden (test/fixtures/golden/loop-a: README.md, cases.json) through ChatDriver and
// compares every recorded field. cases.json is read with the Python-semantics JSON reader so that
// int and float stay distinct (a bbox of `100.0` must not pass for `100`).

import { ChatDriver, type CropRecord, type LlmCall, type TurnOutcome } from '../chat/driver.js';
import type { PyDict, PyValue } from '../py/value.js';
import { contentAsGolden, dict, diff, get, int, ints, parsedAsGolden, runTrajectoryFile, sha256, str, promptFields, replayedCall } from './compare.js';
import type { DecodedImage } from '../preprocess/image.js';

function cropAsGolden(c: CropRecord): PyDict {
  return dict({
    source_index: int(c.sourceIndex),
    bbox: [...c.bbox],
    source_wh: ints([c.sourceWidth, c.sourceHeight]),
    source_region: [...c.sourceRegion],
    region: [...c.region],
    original_file: c.originalName,
    original_wh: ints([c.originalWidth, c.originalHeight]),
    box: ints(c.box),
    crop_wh: ints([c.cropWidth, c.cropHeight]),
    current_scale: c.currentScale,
    scale: c.scale,
    zoom_wh: ints([c.zoomWidth, c.zoomHeight]),
    zoom_sha256: sha256(c.zoom.data),
    processed_wh: ints([c.processedWidth, c.processedHeight]),
    processed_sha256: sha256(c.processed.data),
    image_pad_tokens: int(c.padTokens),
    region_in_call: int(c.regionInCall),
    new_index: c.newIndex === null ? null : int(c.newIndex),
  });
}

function callAsGolden(call: LlmCall, out: TurnOutcome): PyDict {
  const d = dict({
    call: int(call.call),
    calls_left: int(call.callsLeft),
    ...promptFields(call),
    image_wh: call.images.map((im) => ints([im.width, im.height])),
    query_list: [...call.queries],
    image_to_query_mapping: ints(call.imageToQuery),
    outcome: out.outcome,
  });
  if (out.outcome === 'tool') {
    const t = out.tool;
    const tool = dict({
      parsed: parsedAsGolden(t.parsed),
      ok: t.ok,
      error: t.error,
      error_at_region: t.errorAtRegion === null ? null : int(t.errorAtRegion),
    });
    if (!t.ok) tool.set('feedback', t.feedback);
    for (const [k, v] of Object.entries({
      query: t.query,
      kept: int(t.kept),
      dropped_by_cap: int(t.droppedByCap),
      group: t.group === null ? null : int(t.group),
      closing_prompt: t.closingPrompt,
      crops: t.crops.map(cropAsGolden),
    })) {
      tool.set(k, v);
    }
    d.set('tool', tool);
    d.set('tool_response_content', contentAsGolden(out.toolResponseContent));
  }
  return d;
}

async function runTrajectory(
  traj: PyValue,
  images: Map<string, DecodedImage>,
  sizes: PyValue,
): Promise<string | null> {
  const input = get(traj, 'input');
  const expected = get(traj, 'expected');
  const files = get(input, 'images') as PyValue[];
  const optionsV = get(input, 'options');
  const driver = new ChatDriver({
    images: files.map((f) => ({ image: images.get(str(f))!, name: str(f) })),
    question: str(get(input, 'question')),
    problemType: str(get(input, 'problem_type')),
    options: optionsV === null ? null : (optionsV as PyValue[]).map(str),
  });

  let d = diff('initial / question_text', get(expected, 'question_text'), driver.questionText);
  if (d) return d;
  const initial = driver.allImages.map((im, i) => {
    const f = str(files[i]!);
    const orig = images.get(f)!;
    return dict({
      index: int(i),
      file: f,
      original_wh: ints([orig.width, orig.height]),
      max_pixels: driver.initialMaxPixels,
      processed_wh: ints([im.width, im.height]),
      image_pad_tokens: int(im.padTokens),
      processed_sha256: sha256(im.image.data),
    });
  });
  d = diff('initial / initial_images', get(expected, 'initial_images'), initial);
  if (d) return d;
  for (const f of files) {
    const orig = images.get(str(f))!;
    d = diff(`initial / ${str(f)} sha256_rgb`, get(get(sizes, str(f)), 'sha256_rgb'), sha256(orig.data));
    if (d) return d;
  }

  const responses = get(input, 'responses') as PyValue[];
  const calls = get(expected, 'calls') as PyValue[];
  for (let i = 0; i < calls.length; i++) {
    const next = replayedCall(driver, responses, i);
    if (typeof next === 'string') return next;
    const { call, response: r } = next;
    const stopReason = get(r, 'stop_reason');
    const out = driver.acceptResponse({
      text: str(get(r, 'text')),
      finishReason: str(get(r, 'finish_reason')) as 'stop' | 'length',
      stopReason: stopReason === null ? null : Number(stopReason as bigint),
    });
    d = diff(`call ${i} / `, calls[i]!, callAsGolden(call, out));
    if (d) return d.replace(' / .', ' / ');
  }
  if (driver.nextCall() !== null) return `call ${calls.length}: the driver wants another call, the golden has none`;
  const f = driver.final();
  const final = dict({
    num_llm_calls: int(f.rounds),
    stop_cause: f.stopCause,
    num_messages: int(f.numMessages),
    num_images: int(f.numImages),
    last_assistant_text: f.lastAssistantText,
    answer: f.answer,
    answer_driver: f.answerDriver,
    conversation_sha256: sha256(f.conversation),
  });
  d = diff('final / ', get(expected, 'final'), final);
  return d ? d.replace(' / .', ' / ') : null;
}

/** Replay every trajectory of DIR/cases.json; one PASS line per trajectory or its first difference. */
export async function runLoopGolden(dir: string): Promise<{ ok: boolean; lines: string[] }> {
  return runTrajectoryFile(dir, (traj, images, sizes) => runTrajectory(traj, images, sizes));
}
