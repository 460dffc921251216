// Literal strings of the canonical driver (vllm_eval/infer_vilavt_vllm.py), byte for byte.
// Templates that the driver `.format()`s are functions; RESPONSE_PROMPT is never formatted, so its
// doubled braces and `"index": ,` reach the model literally.

export const REASONING_SYSTEM_PROMPT = `You are a helpful assistant. 
Your goal is to solve the problem in the provided image(s) based on the user's instruction. Proceed step by step, optionally using the zoom-in tool one or more times to examine key areas closely. Selected regions will be cropped and processed externally, then re-encoded with your query to extract critical details.

# Tools
If needed, use the zoom-in tool one or more times to examine specific areas in detail.

## Tool Format
Structure:
{
    "region": [
        {
            "index": int,       # Target image index to zoom in (0-based)
            "bbox_2d": list,    # Format: [x1, y1, x2, y2], where (x1, y1) is top-left corner and (x2, y2) is bottom-right corner
        },
        ...                    # Additional regions (optional)
    ],
    "query": str              # Description of what to look for in the selected regions
}

- Parameters:
    - region: List of dictionaries, each containing:
        - index: Integer, specifying which image to zoom in
        - bbox_2d: List of 4 integers [x1, y1, x2, y2] defining the region
    - query: String describing the search target

- Constraints:
    - At least one region must be specified
    - All coordinates must be within image boundaries
    - x1 < x2 and y1 < y2 must be satisfied

# Example:
<tool> {"region": [{"index": 0, "bbox_2d": [100, 200, 300, 400]}], "query": "Look for the red button"} </tool>
`;

export function imageIndexPrompt(index: number): string {
  return `The index of the provided image is ${index}.\n`;
}

export function imageIndexPromptV2(currentImageIdx: number, width: number, height: number): string {
  return `The index of the zoom-in image is ${currentImageIdx} (width: ${width}, height: ${height}).\n`;
}

export function imageQuestionPrompt(width: number, height: number): string {
  return `This is an image indexed by 0. \nThe image size: width ${width}, height ${height}.\n`;
}

export function videoQuestionPrompt(nFrames: number, width: number, height: number): string {
  return (
    `These are ${nFrames} images with indexed from 0 to ${nFrames - 1}. \n` +
    `All images have size: width ${width}, height ${height}.\n`
  );
}

export function userPrompt(imageInstruction: string, question: string): string {
  return `${imageInstruction}
# Question: ${question}

# If you need to zoom in for more details or examine specific regions, make tool call following the format:
<think> Your reasoning about where to look and why </think>
<tool> {"region": [{"index": int, "bbox_2d": [x1, y1, x2, y2]}, ...], "query": str} </tool>

# If you have enough information to answer the original question:
<think> Your reasoning here. </think>
<answer> Your final answer here. </answer>

- Note that x1, y1, x2, y2 are the coordinates of the bounding box in the specfied image by the index.
- You must strictly follow the above output format.
- In \`<answer>\`, provide **only** the final answer in the simplest required form:
  - For multiple-choice questions: output only the letter (e.g., \`A\`, \`B\`, \`C\`).
  - For yes/no questions: output only \`Yes\` or \`No\`.
  - For numerical answers: output only the number (e.g., \`42\`, \`3.14\`).
  - Do not include explanations, units, punctuation, or extra words.
`;
}

export const RESPONSE_PROMPT = `
# If you need to zoom in for more details or examine specific regions, make tool call following the format:
<think> Your reasoning about where to look and why. </think>
<tool> {{"region": [{{"index": , "bbox_2d": [x1, y1, x2, y2]}}, ...], "query": str}} </tool>

# If you have enough information to answer the original question:
<think> Your reasoning here. </think>
<answer> Your final answer here. </answer>
`;

export const RESPONSE_PROMPT_FINAL = `
You have reached the maximum number of iterations. **No further tool calls are allowed**.
You **must** summarize your reasoning and provide the final answer using the format below:
<think> Your reasoning here. </think>
<answer> Your final answer here. </answer>
`;

/** Suffix appended to the question, keyed by the lower-cased problem_type (unknown types: none). */
export const TYPE_TEMPLATE: Readonly<Record<string, string>> = {
  'multiple choice': "\nAnswer with the option's letter from the given choices directly.",
  'free-form': '',
  regression: '\nPlease answer the question using a single word or phrase (e.g., 42 or 3.14).',
  numerical: '\nPlease answer the question using a single word or phrase (e.g., 42 or 3.14).',
};

/**
 * The question as inserted into USER_PROMPT: question, then the options (multiple choice only),
 * then the type suffix.
 */
export function questionText(question: string, problemType: string, options: readonly string[] | null): string {
  const ptype = problemType.toLowerCase();
  let prompt = question;
  if (ptype === 'multiple choice' && options !== null) prompt += '\n' + options.join('\n');
  return prompt + (Object.hasOwn(TYPE_TEMPLATE, ptype) ? TYPE_TEMPLATE[ptype]! : '');
}

/** The first-turn text: IMAGE_QUESTION_PROMPT for one image, VIDEO_QUESTION_PROMPT for several. */
export function firstTurnText(numImages: number, lastWidth: number, lastHeight: number, question: string): string {
  const instruction =
    numImages > 1 ? videoQuestionPrompt(numImages, lastWidth, lastHeight) : imageQuestionPrompt(lastWidth, lastHeight);
  return userPrompt(instruction, question);
}

/**
 * A follow-up message's text (the app's conversations; not part of the canonical driver): the first turn's
 * USER_PROMPT with one size line per image the message adds, so the model knows the new indices and sizes.
 */
export function followUpText(newImages: readonly { index: number; width: number; height: number }[], question: string): string {
  const instruction = newImages.map((im) => `The image indexed by ${im.index} has size: width ${im.width}, height ${im.height}.\n`).join('');
  return userPrompt(instruction, question);
}
