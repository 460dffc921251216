// Replays the loop golden (test/fixtures/golden/loop-a: README.md, cases.json) through ChatDriver and
// compares every recorded field. cases.json is read with the Python-semantics JSON reader so that
// int and float stay distinct (a bbox of `100.0` must not pass for `100`).

import { ChatDriver, type CropRecord, type LlmCall, type TurnOutcome } from '../chat/driver.js';
import type { PyDict, PyValue } from '../py/value.js';
import { contentAsGolden, dict, diffInitial, finalFields, get, initialImage, int, ints, loopResponse, parsedAsGolden, promptFields, replayTrajectory, runTrajectoryFile, sha256, str, type GoldenOptions, type TrajectoryContext } from './compare.js';

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

async function runTrajectory({ traj, input, files, inputs, options }: TrajectoryContext): Promise<string | null> {
  const optionsV = get(input, 'options');
  const driver = new ChatDriver({
    images: inputs,
    question: str(get(input, 'question')),
    problemType: str(get(input, 'problem_type')),
    options: optionsV === null ? null : (optionsV as PyValue[]).map(str),
    render: options.render,
  });
  const d = diffInitial(get(traj, 'expected'), driver.questionText, driver.allImages.map((im, i) => initialImage(files[i]!, inputs[i]!.image, {
    index: int(i),
    max_pixels: driver.initialMaxPixels,
    processed_wh: ints([im.width, im.height]),
    image_pad_tokens: int(im.padTokens),
    processed_sha256: sha256(im.image.data),
  })));
  if (d) return d;
  return replayTrajectory(driver, traj, (call, r) => callAsGolden(call, driver.acceptResponse(loopResponse(r))), () => {
    const f = driver.final();
    return dict({
      ...finalFields(f),
      last_assistant_text: f.lastAssistantText,
      answer: f.answer,
      answer_driver: f.answerDriver,
    });
  });
}

/** Replay every trajectory of DIR/cases.json; one PASS line per trajectory or its first difference. */
export async function runLoopGolden(dir: string, options: GoldenOptions = {}): Promise<{ ok: boolean; lines: string[] }> {
  return runTrajectoryFile(dir, runTrajectory, options);
}
