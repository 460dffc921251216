/** Error codes for image loading / preprocessing failures. */
export type ImageErrorCode =
  | 'aspect_ratio' // smart_resize: max(h,w)/min(h,w) > 200 (Python's ValueError text)
  | 'bad_size' // non-positive or non-integer sizes (e.g. Pillow's "height and width must be > 0")
  | 'bad_box' // crop box with right < left or lower < upper (Pillow's ValueError text)
  | 'bad_image' // DecodedImage whose fields are inconsistent
  | 'decode' // file could not be read or decoded
  | 'too_large' // more pixels than the caller allows (checked on the header, before decoding)
  | 'unsupported'; // decodable but in a form we do not handle (e.g. > 4 channels)

/** Thrown by src/preprocess and image decoding; `message` mirrors the Python text where one exists. */
export class ImageError extends Error {
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.name = 'ImageError';
    this.code = code;
  }
}
