/**
 * Counts the scans (SOS markers) of a JPEG from its bytes, fed in chunks, without decoding:
 * a progressive JPEG's decode cost grows with its scan count, and libjpeg-turbo's own advice
 * is to cap it. Walks marker segments and skips entropy-coded data (where 0xFF is followed by
 * a stuffed 0x00 or a restart marker). Memory is constant whatever the file's size.
 */
export function createScanCounter() {
  /** 'marker': expecting 0xFF; 'code': the marker code; 'len1'/'len2': segment length; 'skip': segment body; 'data': entropy-coded data. */
  let state: 'marker' | 'code' | 'len1' | 'len2' | 'skip' | 'data' | 'data-ff' = 'marker';
  let marker = 0;
  let length = 0;
  let skip = 0;
  let scans = 0;
  let ended = false;

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
            if (b !== 0xff) startMarker(b);
            break;
          case 'len1':
            length = b << 8;
            state = 'len2';
            break;
          case 'len2':
            length |= b;
            skip = Math.max(0, length - 2);
            if (marker === 0xda) scans++;
            state = skip > 0 ? 'skip' : marker === 0xda ? 'data' : 'marker';
            break;
          case 'skip': {
            const take = Math.min(skip, bytes.length - i);
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
  };
}

/** Scans in `bytes`, counting no further than `cap + 1`. */
export function countJpegScans(bytes: Uint8Array, cap = Infinity): number {
  const counter = createScanCounter();
  const CHUNK = 64 * 1024;
  for (let at = 0; at < bytes.length; at += CHUNK) {
    if (counter.push(bytes.subarray(at, at + CHUNK)) > cap) break;
  }
  return counter.scans;
}
