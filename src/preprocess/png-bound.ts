// A PNG whose header claims more pixels than its bytes can hold is truncated or corrupt, and is refused before it is
// decoded: libvips spends seconds (and hundreds of MB) on a 500-byte file claiming 8,388,620 x 9 pixels before its
// libpng read error (found by `npm run fuzz`). Deflate cannot expand more than 1032:1 (a 258-byte match in two
// bits), so the scanlines of a valid PNG never exceed 1032 times the file size. Platform-neutral.
import { ImageError } from './errors.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Deflate's largest expansion ratio. */
const MAX_INFLATE_RATIO = 1032;

/** Throws ImageError('decode') when `bytes` is a PNG whose IHDR claims more scanline bytes than the file can inflate to. */
export function checkPngSizeBound(bytes: Uint8Array): void {
  if (bytes.length < 29 || SIGNATURE.some((v, i) => bytes[i] !== v)) return;
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = dv.getUint32(16);
  const height = dv.getUint32(20);
  const channels = CHANNELS[bytes[25]!];
  const bitDepth = bytes[24]!;
  if (channels === undefined) return; // the decoder names the bad colour type
  // Non-interlaced size: a lower bound (Adam7 adds a filter byte per pass row).
  const scanlineBytes = height * (1 + Math.ceil((width * channels * bitDepth) / 8));
  if (scanlineBytes > bytes.length * MAX_INFLATE_RATIO) {
    throw new ImageError('decode', `cannot decode image: PNG of ${width}x${height} pixels needs ${scanlineBytes} bytes of scanlines, ` +
      `more than its ${bytes.length} bytes can hold: truncated or corrupt file`);
  }
}
