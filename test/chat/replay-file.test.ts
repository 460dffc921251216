// The replay-file parser of `vilavt chat --replay` and the browser demo: three formats, typed errors for the rest.
import { describe, expect, it } from 'vitest';
import { ChatError } from '../../src/chat/errors.js';
import { parseReplayFile } from '../../src/chat/replay-file.js';

describe('parseReplayFile', () => {
  it('reads a list of strings, {"assistant_turns"} with a question, and {"responses"} with stop details', () => {
    expect(parseReplayFile('["a", "b"]', 'r.json')).toEqual({ turns: ['a', 'b'], question: undefined });
    expect(parseReplayFile('{"question": "Q?", "assistant_turns": ["x"]}', 'r.json')).toEqual({ turns: ['x'], question: 'Q?' });
    expect(parseReplayFile('{"responses": [{"text": "t", "finish_reason": "length"}, {"text": "u", "stop_reason": 151643}]}', 'r.json')).toEqual({
      turns: [{ text: 't', finishReason: 'length', stopReason: null }, { text: 'u', finishReason: undefined, stopReason: 151643 }],
      question: undefined,
    });
  });

  it('rejects bad files with a ChatError naming the file and the problem', () => {
    const cases: [string, RegExp][] = [
      ['{not json', /r\.json: invalid JSON/],
      ['{"question": "Q?"}', /no list of turns/],
      ['[{"txt": "a"}]', /turn 0 has no "text"/],
      ['["ok", {"text": "a", "finish_reason": "eos"}]', /turn 1: finish_reason "eos"/],
      ['[{"text": "a", "stop_reason": 1.5}]', /turn 0: stop_reason 1.5/],
    ];
    for (const [text, msg] of cases) {
      expect(() => parseReplayFile(text, 'r.json')).toThrow(ChatError);
      expect(() => parseReplayFile(text, 'r.json')).toThrow(msg);
    }
  });
});
