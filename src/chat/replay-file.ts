// A replay file (teacher-forced assistant turns), as `vilavt chat --replay` and the browser demo read it: a list of
// strings, {"assistant_turns": [...]} or {"responses": [{"text", "finish_reason", "stop_reason"}]}, with an optional
// "question". Platform-neutral: callers read the text.
import { ChatError } from './errors.js';
import type { ReplayTurn } from './session.js';
import { jsonSnippet } from '../util/json-bounded.js';

export interface ReplayFile {
  turns: ReplayTurn[];
  question?: string;
}

export function parseReplayFile(text: string, source: string): ReplayFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ChatError(`replay file ${source}: invalid JSON: ${(e as Error).message}`);
  }
  const bad = (why: string) =>
    new ChatError(`replay file ${source}: ${why}; expected a list of strings, {"assistant_turns": [...]} or {"responses": [{"text": ...}]}`);
  const obj = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
  const list = Array.isArray(doc) ? doc : obj?.assistant_turns ?? obj?.responses;
  if (!Array.isArray(list)) throw bad('no list of turns');
  if (list.length === 0) throw bad('the list of turns is empty');
  const turns = list.map((t, i): ReplayTurn => {
    if (typeof t === 'string') return t;
    const r = t !== null && typeof t === 'object' ? (t as Record<string, unknown>) : null;
    if (!r || typeof r.text !== 'string') throw bad(`turn ${i} has no "text"`);
    const fr = r.finish_reason;
    if (fr !== undefined && fr !== 'stop' && fr !== 'length') throw bad(`turn ${i}: finish_reason ${jsonSnippet(fr)}`);
    const sr = r.stop_reason;
    if (sr !== undefined && sr !== null && !Number.isSafeInteger(sr)) throw bad(`turn ${i}: stop_reason ${jsonSnippet(sr)}`);
    return { text: r.text, finishReason: fr, stopReason: (sr as number | null | undefined) ?? null };
  });
  const question = obj && typeof obj.question === 'string' ? obj.question : undefined;
  return { turns, question };
}
