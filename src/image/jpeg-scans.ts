/** A component's sampling factors, from the frame header (SOFn). */
export interface Sampling {
  h: number;
  v: number;
}

/** SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
const isFrame = (code: number): boolean => code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc;
/** A frame header's fixed part and up to four components of three bytes. */
const FRAME_BYTES = 6 + 4 * 3;

/**
 * Counts the scans (SOS markers) of a JPEG from its bytes, fed in chunks, without decoding:
 * a progressive JPEG's decode cost grows with its scan count, and libjpeg-turbo's own advice
 * is to cap it. Walks marker segments and skips entropy-coded data (where 0xFF is followed by
 * a stuffed 0x00 or a restart marker). Memory is constant whatever the file's size. Also keeps
 * the frame's sampling factors, which set how many coefficients a progressive decode holds.
 */
export function createScanCounter() {
  /** 'marker': expecting 0xFF; 'code': the marker code; 'len1'/'len2': segment length; 'skip': segment body; 'data': entropy-coded data. */
  let state: 'marker' | 'code' | 'len1' | 'len2' | 'skip' | 'data' | 'data-ff' = 'marker';
  let marker = 0;
  let length = 0;
  let skip = 0;
  let scans = 0;
  let ended = false;
  const frame: number[] = [];
  let inFrame = false;

  const startMarker = (code: number): void => {
    marker = code;
    // SOI, EOI, RSTn and TEM have no length.
    if (code === 0xd8 || code === 0x01 || (code >= 0xd0 && code <= 0xd7)) state = 'marker';
    else if (code === 0xd9) ended = true;
    else state = 'len1';
  };

  return {
    /** Feeds the next bytes; returns the scans seen so far. */
    push(bytes: Uint8Array): number {
      for (let i = 0; i < bytes.length && !ended; i++) {
        const b = bytes[i] ?? 0;
        switch (state) {
          case 'marker':
            // Anything but 0xFF between segments is junk that decoders skip too.
            if (b === 0xff) state = 'code';
            break;
          case 'code':
            // FF 00 between segments is junk that libjpeg skips, not a marker with a length.
            if (b === 0x00) state = 'marker';
            else if (b !== 0xff) startMarker(b);
            break;
          case 'len1':
            length = b << 8;
            state = 'len2';
            break;
          case 'len2':
            length |= b;
            skip = Math.max(0, length - 2);
            if (marker === 0xda) scans++;
            inFrame = isFrame(marker) && frame.length === 0;
            state = skip > 0 ? 'skip' : marker === 0xda ? 'data' : 'marker';
            break;
          case 'skip': {
            const take = Math.min(skip, bytes.length - i);
            if (inFrame) for (let k = 0; k < take && frame.length < FRAME_BYTES; k++) frame.push(bytes[i + k] ?? 0);
            skip -= take;
            i += take - 1;
            if (skip === 0) state = marker === 0xda ? 'data' : 'marker';
            break;
          }
          case 'data': {
            // Jump to the next 0xFF: most of a file is entropy-coded data.
            const at = bytes.indexOf(0xff, i);
            if (at < 0) i = bytes.length;
            else {
              i = at;
              state = 'data-ff';
            }
            break;
          }
          case 'data-ff':
            if (b === 0x00 || (b >= 0xd0 && b <= 0xd7)) state = 'data';
            else if (b !== 0xff) startMarker(b);
            break;
        }
      }
      return scans;
    },
    get scans(): number {
      return scans;
    },
    /** The first frame's components' sampling factors, once its header has been read. */
    get sampling(): Sampling[] | undefined {
      const count = frame[5] ?? 0;
      if (count === 0 || frame.length < 6 + 3 * count) return undefined;
      return Array.from({ length: count }, (_, c) => {
        const hv = frame[6 + 3 * c + 1] ?? 0x11;
        return { h: Math.max(1, hv >> 4), v: Math.max(1, hv & 15) };
      });
    },
  };
}

/** Scans in `bytes`, counting no further than `cap + 1`. */
export function countJpegScans(bytes: Uint8Array, cap = Infinity): number {
  return readJpegScans(bytes, cap).scans;
}

/** Scans in `bytes` (no further than `cap + 1`) and the frame's sampling factors. */
export function readJpegScans(bytes: Uint8Array, cap = Infinity): { scans: number; sampling: Sampling[] | undefined } {
  const counter = createScanCounter();
  const CHUNK = 64 * 1024;
  for (let at = 0; at < bytes.length; at += CHUNK) {
    if (counter.push(bytes.subarray(at, at + CHUNK)) > cap) break;
  }
  return { scans: counter.scans, sampling: counter.sampling };
}

/**
 * Bytes of DCT coefficients a progressive decode holds: two a sample, each component at its own
 * sampling (a 4:2:0 colour image holds half of what 4:4:4 does). Without the frame, every
 * component at full size.
 */
export function coefficientBytes(width: number, height: number, components: number, sampling: Sampling[] | undefined): number {
  if (!sampling?.length) return width * height * components * 2;
  const hMax = Math.max(...sampling.map((s) => s.h));
  const vMax = Math.max(...sampling.map((s) => s.v));
  let bytes = 0;
  for (const { h, v } of sampling) bytes += Math.ceil((width * h) / hMax) * Math.ceil((height * v) / vMax) * 2;
  return bytes;
}
