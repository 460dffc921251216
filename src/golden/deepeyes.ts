// Replays a DeepEyes loop golden (cases.json format deepeyes-loop-golden/1; README of test/fixtures/golden/deepeyes-a)
// through DeepEyesDriver — the driver the session runs — and compares every recorded field. A tool error's `error`
// text is informative in the golden (the script only prints it): a difference there is a NOTE, not a failure.
import { DeepEyesDriver, DEEPEYES_SETTINGS, type DeepEyesCall, type DeepEyesOutcome } from '../chat/deepeyes.js';
import { PyDict, type PyValue } from '../py/value.js';
import { contentAsGolden, dict, diffInitial, finalFields, get, initialImage, int, ints, parsedAsGolden, promptFields, replayTrajectory, runTrajectoryFile, sha256, str, type GoldenOptions, type TrajectoryContext } from './compare.js';

function callAsGolden(call: DeepEyesCall, out: DeepEyesOutcome): PyDict {
  const d = dict({
    call: int(call.call),
    try_count: int(call.tryCount),
    ...promptFields(call),
    image_wh: call.images.map((im) => ints([im.width, im.height])),
    outcome: out.outcome,
  });
  if (out.outcome === 'tool') {
    const c = out.crop;
    d.set('tool', dict({
      body: c.body,
      parsed: parsedAsGolden(c.parsed),
      bbox: c.bbox,
      crop_box: ints(c.cropBox),
      crop_wh: ints([c.cropWidth, c.cropHeight]),
      bbox_wh: [c.bboxWidth, c.bboxHeight],
      zoom_wh: ints([c.zoom.width, c.zoom.height]),
      zoom_sha256: sha256(c.zoom.data),
      model_wh: ints([c.model.width, c.model.height]),
      model_sha256: sha256(c.model.data),
      image_pad_tokens: int(c.padTokens),
      ok: true,
      new_index: int(c.newIndex),
    }));
    d.set('tool_response_content', contentAsGolden(out.toolResponseContent));
  } else if (out.outcome === 'tool_error') {
    d.set('tool', dict({ ok: false, error_type: out.errorType, error: out.error }));
  }
  return d;
}

/** Moves the informative `tool.error` text out of both records; returns the note when they differ. */
function splitInformative(exp: PyValue, got: PyDict): string | null {
  const et = exp instanceof PyDict ? exp.get('tool') : undefined;
  const gt = got.get('tool');
  if (!(et instanceof PyDict) || !(gt instanceof PyDict) || et.get('ok') !== false || !et.has('error') || !gt.has('error')) return null;
  const e = et.get('error');
  const g = gt.get('error');
  gt.set('error', e!);
  return e === g ? null : `informative error text differs: expected ${JSON.stringify(e)} got ${JSON.stringify(g)}`;
}

async function runTrajectory({ traj, input, files, inputs, note, options }: TrajectoryContext): Promise<string | null> {
  const driver = new DeepEyesDriver({
    images: inputs,
    question: str(get(input, 'question')),
    options: (get(input, 'options') as PyValue[]).map(str),
    render: options.render,
  });
  const first = driver.allImages[0]!;
  const d = diffInitial(get(traj, 'expected'), driver.questionText, [initialImage(files[0]!, inputs[0]!.image, {
    min_pixels: int(DEEPEYES_SETTINGS.serverMinPixels),
    max_pixels: int(DEEPEYES_SETTINGS.serverMaxPixels),
    model_wh: ints([first.width, first.height]),
    model_sha256: sha256(first.image.data),
    image_pad_tokens: int(first.padTokens),
  })]);
  if (d) return d;
  return replayTrajectory(driver, traj, (call, r, expectedCall) => {
    const got = callAsGolden(call, driver.acceptResponse(str(get(r, 'text'))));
    const n = splitInformative(expectedCall, got);
    if (n) note(`call ${call.call}: ${n}`);
    return got;
  }, () => {
    const f = driver.final();
    return dict({
      ...finalFields(f),
      status: f.status,
      last_response: f.lastResponse,
      pred_ans: f.predAns,
    });
  });
}

export async function runDeepEyesGolden(dir: string, options: GoldenOptions = {}): Promise<{ ok: boolean; lines: string[] }> {
  return runTrajectoryFile(dir, runTrajectory, options);
}
