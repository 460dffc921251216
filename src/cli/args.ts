// Command-line parsing with the conventions every `vilavt` command shares: an unknown or malformed option is a
// UsageError carrying the command's usage text (exit status 2), and `--help` prints the usage and ends the command.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './fail.js';

/** `parseArgs(config)`, or null after printing `usage` for --help (the caller then exits with status 0). */
export function parseCommand<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> | null {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${usage}`);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    return null;
  }
  return parsed;
}

/** An integer option `--name` (at least `min`), or `dflt` when it is not given. */
export function intOption(name: string, v: string | undefined, dflt: number, min: number): number;
export function intOption(name: string, v: string | undefined, dflt: undefined, min: number): number | undefined;
export function intOption(name: string, v: string | undefined, dflt: number | undefined, min: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}
