/**
 * C strings for libnl's `const char *` parameters. No FFI here.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A NUL-terminated UTF-8 copy of `s`, for `const char *` parameters. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
