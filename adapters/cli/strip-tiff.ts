import { open } from 'node:fs/promises';

/**
 * Writes an uncompressed 8-bit strip TIFF band by band, so an image can be assembled on disk
 * from pieces decoded one at a time and then read back sequentially: memory holds one band.
 * Classic TIFF (32-bit offsets): callers keep width × height × channels under 4 GiB.
 */
export async function createStripTiff(path: string, width: number, height: number, channels: 1 | 3) {
  const file = await open(path, 'w');
  const stripOffsets: number[] = [];
  const stripBytes: number[] = [];
  let at = 8;
  let rows = 0;
  let rowsPerStrip = 0;
  await file.write(Buffer.from([0x49, 0x49, 42, 0, 0, 0, 0, 0]), 0, 8, 0);
  return {
    /** Appends the next `bytes.length / (width × channels)` rows; every band but the last has the first band's height. */
    async append(bytes: Uint8Array): Promise<void> {
      const bandRows = bytes.length / (width * channels);
      if (!Number.isInteger(bandRows) || bandRows < 1 || rows + bandRows > height) throw new Error('band does not fit the image');
      if (rowsPerStrip === 0) rowsPerStrip = bandRows;
      else if (bandRows !== rowsPerStrip && rows + bandRows !== height) throw new Error('only the last band may be shorter');
      await file.write(bytes, 0, bytes.length, at);
      stripOffsets.push(at);
      stripBytes.push(bytes.length);
      at += bytes.length;
      rows += bandRows;
    },
    /** Writes the directory and closes the file. */
    async finish(): Promise<void> {
      try {
        if (rows !== height) throw new Error('image incomplete');
        await writeDirectory(file, at, { width, height, channels, rowsPerStrip, stripOffsets, stripBytes });
      } finally {
        await file.close();
      }
    },
    close: () => file.close().catch(() => undefined),
  };
}

interface Directory {
  width: number;
  height: number;
  channels: 1 | 3;
  rowsPerStrip: number;
  stripOffsets: number[];
  stripBytes: number[];
}

type FileHandle = Awaited<ReturnType<typeof open>>;

async function writeDirectory(file: FileHandle, at: number, d: Directory): Promise<void> {
  // Arrays that do not fit in an entry's 4 bytes go after the directory.
  const entries: Array<[tag: number, type: 3 | 4, values: number[]]> = [
    [256, 4, [d.width]],
    [257, 4, [d.height]],
    [258, 3, Array<number>(d.channels).fill(8)],
    [259, 3, [1]],
    [262, 3, [d.channels === 3 ? 2 : 1]],
    [273, 4, d.stripOffsets],
    [277, 3, [d.channels]],
    [278, 4, [d.rowsPerStrip]],
    [279, 4, d.stripBytes],
    [284, 3, [1]],
  ];
  const ifdStart = at + (at % 2);
  const ifdSize = 2 + entries.length * 12 + 4;
  let extra = ifdStart + ifdSize;
  const ifd = Buffer.alloc(ifdSize);
  const extras: Buffer[] = [];
  ifd.writeUInt16LE(entries.length, 0);
  entries.forEach(([tag, type, values], i) => {
    const o = 2 + i * 12;
    const size = type === 3 ? 2 : 4;
    ifd.writeUInt16LE(tag, o);
    ifd.writeUInt16LE(type, o + 2);
    ifd.writeUInt32LE(values.length, o + 4);
    const data = Buffer.alloc(values.length * size);
    values.forEach((v, j) => (size === 2 ? data.writeUInt16LE(v, j * 2) : data.writeUInt32LE(v, j * 4)));
    if (data.length <= 4) data.copy(ifd, o + 8);
    else {
      ifd.writeUInt32LE(extra, o + 8);
      extras.push(data);
      extra += data.length;
    }
  });
  await file.write(Buffer.concat([ifd, ...extras]), 0, undefined, ifdStart);
  const header = Buffer.alloc(4);
  header.writeUInt32LE(ifdStart, 0);
  await file.write(header, 0, 4, 4);
}
