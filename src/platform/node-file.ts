/** Node file access for checkpoints: a ByteSource over a file (positioned reads, never the whole file). */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { checkRange, type ByteSource } from '../model/byte-source.js';
import { openCheckpoint, type Checkpoint } from '../model/checkpoint.js';
import { CheckpointError } from '../model/errors.js';

/** Largest single read() call; Node rejects reads of 2 GiB and more. */
const MAX_CHUNK = 1 << 30;

export async function fileSource(path: string, name = basename(path)): Promise<ByteSource> {
  const st = await stat(path);
  if (!st.isFile()) throw new CheckpointError({ file: name, message: `${path} is not a regular file` });
  return {
    name,
    size: st.size,
    async read(offset, length) {
      checkRange({ name, size: st.size }, offset, length);
      const out = new Uint8Array(length);
      // Opened per read: no descriptor outlives the call, and reads are tensor-sized so the cost is negligible.
      const fh = await open(path, 'r');
      try {
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(out, done, Math.min(length - done, MAX_CHUNK), offset + done);
          if (bytesRead === 0) {
            throw new CheckpointError({ file: name, message: `unexpected end of file at byte ${offset + done} (file changed or truncated?)` });
          }
          done += bytesRead;
        }
      } finally {
        await fh.close();
      }
      return out;
    },
  };
}

/** Opens the checkpoint in folder `dir` (regular files only; sources are created when first asked for). */
export async function openCheckpointDir(dir: string): Promise<Checkpoint> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = new Set(entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name));
  return openCheckpoint(async (name) => (names.has(name) ? fileSource(join(dir, name), name) : null));
}
