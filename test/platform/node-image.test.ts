import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/preprocess/errors.js';
import { decodeImageBuffer, decodeImageFile, encodePng } from '../../src/platform/node-image.js';

// Expected values follow Pillow 9.4 PngImagePlugin modes: 16-bit RGB -> "RGB;16B" (high byte),
// 16-bit grey -> mode "I" (convert("RGB") clips to 255), 8-bit LA stays LA.
async function png16(values: number[], width: number, channels: 1 | 3): Promise<Uint8Array> {
  const height = values.length / width / channels;
  return sharp(new Uint16Array(values), { raw: { width, height, channels } })
    .toColourspace(channels === 1 ? 'grey16' : 'rgb16')
    .png()
    .toBuffer();
}

describe('node-image decoding (Pillow-compatible)', () => {
  it('16-bit RGB keeps the high byte', async () => {
    const img = await decodeImageBuffer(await png16([0x1234, 0xabff, 0x00ff, 0xff00, 0x8080, 0x7fff], 2, 3));
    expect([img.width, img.height, img.channels]).toEqual([2, 1, 3]);
    expect(Array.from(img.data)).toEqual([0x12, 0xab, 0x00, 0xff, 0x80, 0x7f]);
  });

  it('16-bit grey is clipped to 0..255 like Pillow mode "I" -> RGB', async () => {
    const img = await decodeImageBuffer(await png16([0, 7, 254, 255, 256, 65535], 3, 1));
    expect(img.channels).toBe(1);
    expect(Array.from(img.data)).toEqual([0, 7, 254, 255, 255, 255]);
  });

  it('round-trips 1..4 channel 8-bit images through encodePng with their channel count', async () => {
    for (const channels of [1, 2, 3, 4] as const) {
      const data = new Uint8Array(5 * 3 * channels).map((_, i) => (i * 71 + 3) % 256);
      const img = { width: 5, height: 3, channels, data };
      const back = await decodeImageBuffer(await encodePng(img));
      expect(back).toEqual(img);
    }
  });

  it('does not apply EXIF orientation', async () => {
    const jpeg = await sharp({ create: { width: 8, height: 4, channels: 3, background: '#808080' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const img = await decodeImageBuffer(jpeg);
    expect([img.width, img.height]).toEqual([8, 4]);
  });

  it('throws ImageError for unreadable input', async () => {
    await expect(decodeImageBuffer(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow(ImageError);
    await expect(decodeImageFile('/nonexistent/image.png')).rejects.toMatchObject({ code: 'decode' });
  });
});
