import sharp from 'sharp';
import type { Expect } from './workloads.ts';

export interface Checked {
  ok: boolean;
  /** e.g. "200 256×256 jpeg" or what went wrong. */
  detail: string;
}

async function measure(url: string, expect: Expect): Promise<{ width: number; height: number; what: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${res.status} ${body.toString('utf8', 0, 200).trim()}`);
  if (expect.kind === 'info') {
    const doc = JSON.parse(body.toString('utf8')) as { width?: unknown; height?: unknown };
    return { width: Number(doc.width), height: Number(doc.height), what: 'info.json' };
  }
  const { width, height, format } = await sharp(body).metadata();
  return { width, height, what: format };
}

/** One request: 200, and the size the workload expects (within its rounding slack). */
export async function check(url: string, expect: Expect): Promise<Checked> {
  try {
    const got = await measure(url, expect);
    const ok = Math.abs(got.width - expect.width) <= expect.slack && Math.abs(got.height - expect.height) <= expect.slack;
    const detail = `200 ${got.width}×${got.height} ${got.what}`;
    return ok ? { ok, detail } : { ok, detail: `${detail}, expected ${expect.width}×${expect.height}` };
  } catch (e) {
    return { ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}
