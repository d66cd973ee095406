import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { UsageError } from './args.ts';
import { InputError, firstLine, writePyramid, type PyramidOptions } from './convert.ts';
import { openLocation, type Location, type StoredFile } from './locations.ts';
import { levelsMetadata } from './pyramid-levels.ts';
import { createMemoryBudget, type MemoryBudget } from './memory-budget.ts';
import { forEachLimited } from './pool.ts';
import { startProgress } from './progress.ts';
import { outputName, type Rename } from './rename.ts';
import { isWholePyramid, tileQuantisation } from './tiff-input.ts';

export interface PrepareOptions extends PyramidOptions {
  concurrency: number;
  /** Decoded pixels in flight across concurrent conversions, in bytes. */
  maxMemoryBytes: number;
  force: boolean;
  dryRun: boolean;
  rename: Rename[];
  keyTemplate?: string;
}

/** What the server serves: every format sharp decodes, and JPEG 2000 through our OpenJPEG build. */
const IMAGE_NAME = /\.(jpe?g|jpe|jfif|png|tiff?|webp|gif|avif|heic|heif|jp2|j2k|j2c|jpc|jpx|jpf)$/i;

interface Job {
  input: StoredFile;
  output: string;
}

/** `planned`: would be converted, in a dry run. */
type Outcome = 'converted' | 'planned' | 'skipped' | 'failed';

/** Converts every image under SOURCE into DEST; the JSON summary goes to stdout, progress to stderr. */
export async function runPrepare(sourceSpec: string, destSpec: string, o: PrepareOptions): Promise<number> {
  // An empty argument (an unset shell variable) would mean the current folder.
  if (sourceSpec.trim() === '' || destSpec.trim() === '') throw new UsageError('SOURCE and DEST must not be empty');
  const source = openLocation(sourceSpec);
  const dest = openLocation(destSpec);
  // Inside SOURCE, outputs would replace inputs of the same name, or be listed as inputs on the
  // next run; around it, SOURCE's sub/a.jpg would be written over its own a.jpg: by name, and
  // through links (DEST a link to SOURCE).
  const within = (outer: string, inner: string) => inner === outer || inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
  const nested = (a: string, b: string) => within(a, b) || within(b, a);
  const [sourceReal, destReal] = await Promise.all([source.identity(), dest.identity()]);
  if (nested(source.label, dest.label) || nested(sourceReal, destReal)) {
    source.close();
    dest.close();
    throw new UsageError('DEST must not be SOURCE, inside it or around it');
  }
  const scratch = await mkdtemp(join(tmpdir(), 'iiif-edge-prepare-'));
  const started = Date.now();
  const counts: Record<Outcome, number> = { converted: 0, planned: 0, skipped: 0, failed: 0 };
  const errors: Array<{ file: string; reason: string }> = [];
  const plan: Array<{ file: string; output: string; action: 'convert' | 'skip' }> = [];
  let inputBytes = 0;
  let outputBytes = 0;
  // Ctrl-C or a stop mid-run: outputs being written (and their strip files) and the scratch folder
  // go, so DEST holds only finished outputs and the next run redoes the rest.
  const interrupted = (signal: NodeJS.Signals) => {
    dest.abandon?.();
    rmSync(scratch, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    // SOURCE is read first: a missing one must not leave an empty DEST behind.
    const { jobs, ignored, hidden, linksOutside, refused } = await planJobs(source, dest, o);
    if (!o.dryRun) await dest.writable?.();
    for (const error of refused) {
      errors.push(error);
      process.stderr.write(`${error.file}: ${error.reason}\n`);
    }
    counts.failed += refused.length;
    // Memory follows images in flight: each gets its share of the cores rather than all of them.
    sharp.cache(false);
    sharp.concurrency(Math.max(1, Math.floor(availableParallelism() / o.concurrency)));
    const budget = createMemoryBudget(o.maxMemoryBytes);
    const progress = startProgress('prepare', jobs.length);
    await forEachLimited(jobs, o.concurrency, async (job) => {
      const outcome = await runJob(job, source, dest, scratch, o, budget).catch((e: unknown) => {
        const reason = e instanceof InputError ? e.message : `failed: ${firstLine(e)}`;
        errors.push({ file: job.input.name, reason });
        progress.log(`${job.input.name}: ${reason}`);
        return { outcome: 'failed' as const, bytes: 0 };
      });
      counts[outcome.outcome]++;
      if (o.dryRun) plan.push({ file: job.input.name, output: job.output, action: outcome.outcome === 'skipped' ? 'skip' : 'convert' });
      if (outcome.outcome === 'converted') inputBytes += job.input.size;
      outputBytes += outcome.bytes;
      progress.tick(job.input.size);
    });
    progress.stop();
    const seconds = (Date.now() - started) / 1000;
    const summary = {
      source: source.label,
      dest: dest.label,
      dryRun: o.dryRun,
      files: jobs.length + refused.length,
      ...counts,
      ignored,
      hidden,
      linksOutside,
      inputBytes,
      outputBytes,
      seconds: Number(seconds.toFixed(2)),
      filesPerSecond: Number((counts.converted / Math.max(seconds, 0.001)).toFixed(2)),
      // The process's high-water mark (getrusage), not a sample.
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      errors,
      ...(o.dryRun ? { plan } : {}),
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return counts.failed > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    dest.abandon?.();
    source.close();
    dest.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Relative parts (`..` would leave DEST), or empty ones (`a//b`, a leading or trailing `/`). */
const climbs = (name: string) => name.split('/').some((part) => part === '..' || part === '.');
const hasEmptyPart = (name: string) => name.split('/').includes('');

async function planJobs(source: Location, dest: Location, o: PrepareOptions) {
  const jobs: Job[] = [];
  let ignored = 0;
  // Image names with a part starting with '.' (`.git`, macOS `._x.jpg` resource forks, our own
  // staging folders, S3 keys with `.` or `..` parts): the server serves them (`..` it refuses),
  // but they are rarely images of the collection.
  let hidden = 0;
  let linksOutside = 0;
  // Inputs DEST cannot hold under their name (an S3 key `a//b.jpg` in a folder): failed, the rest goes on.
  const refused: Array<{ file: string; reason: string }> = [];
  for await (const input of source.list()) {
    const hiddenName = input.name.split('/').some((part) => part.startsWith('.'));
    if (input.outside) linksOutside++;
    // An unreadable hidden folder (macOS's .Spotlight-V100) is skipped as its readable kin are.
    else if (hiddenName && (input.refused !== undefined || input.dangling)) hidden++;
    else if (input.refused !== undefined) refused.push({ file: input.name, reason: input.refused });
    // A link to a missing folder (an unmounted share) may hide a whole subtree: never just ignored.
    else if (input.dangling) refused.push({ file: input.name, reason: 'a link to nothing (a missing file or folder)' });
    else if (!IMAGE_NAME.test(input.name)) ignored++;
    else if (hiddenName) hidden++;
    else {
      const output = outputName(input.name, o.rename, o.keyTemplate);
      // Only the user's --rename or --key-template can add a `..` or `.` (inputs with one are hidden) or
      // empty parts the input lacked: a mistake in the arguments, before anything is written.
      if (climbs(output) || (hasEmptyPart(output) && !hasEmptyPart(input.name))) {
        throw new UsageError(`--rename or --key-template makes ${input.name} into ${output}, which is not a name inside DEST`);
      }
      const problem = dest.nameProblem?.(output);
      if (problem !== undefined) refused.push({ file: input.name, reason: problem });
      else jobs.push({ input, output });
    }
  }
  // Two inputs renamed onto one output (a.jpg and a.png to a.tif) would overwrite each other.
  const byOutput = new Map<string, Job[]>();
  for (const job of jobs) byOutput.set(job.output, [...(byOutput.get(job.output) ?? []), job]);
  const clashes = [...byOutput.values()]
    .filter((group) => group.length > 1)
    .flatMap((group) => group.map((job) => ({ file: job.input.name, reason: `output ${job.output} is also the output of another input` })));
  const clashing = new Set(clashes.map((c) => c.file));
  return { jobs: jobs.filter((job) => !clashing.has(job.input.name)), ignored, hidden, linksOutside, refused: [...refused, ...clashes] };
}

/**
 * An earlier run's output counts when it is as new as its input and reads as a TIFF we wrote. A
 * folder output carries its input's time (put() sets it), an S3 one names it in `sourcemodified`:
 * an input dated in the future is then done once, not on every run.
 */
async function upToDate(job: Job, dest: Location, scratch: string, o: PrepareOptions): Promise<boolean> {
  const found = await dest.stat(job.output);
  if (!found) return false;
  // Outputs of earlier versions carry no `sourcemodified`: their own time stands for it.
  const recorded = Date.parse(found.metadata?.sourcemodified ?? '');
  if ((Number.isNaN(recorded) ? found.modified.getTime() : recorded) < job.input.modified.getTime()) return false;
  // On S3 the metadata we write also says which tile size the output has.
  if (found.metadata) {
    // Outputs of versions that did not record their quality are taken as they are.
    const quality = found.metadata.quality;
    return found.metadata.width !== undefined && found.metadata.tilewidth === String(o.tileSize) && (quality === undefined || quality === String(o.quality));
  }
  return isWholePyramid(await dest.localCopy(job.output, scratch), o.tileSize, await quantisationFor(o.quality, scratch));
}

const quantisations = new Map<number, Promise<string | undefined>>();

/** The tables libvips writes for `quality`, read from a tiny tiled TIFF written as outputs are. */
function quantisationFor(quality: number, scratch: string): Promise<string | undefined> {
  let tables = quantisations.get(quality);
  if (!tables) {
    const file = join(scratch, `quality-${quality}.tif`);
    tables = sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
      .tiff({ tile: true, tileWidth: 16, tileHeight: 16, compression: 'jpeg', quality })
      .toFile(file)
      .then(() => tileQuantisation(file));
    quantisations.set(quality, tables);
  }
  return tables;
}

async function runJob(job: Job, source: Location, dest: Location, scratch: string, o: PrepareOptions, budget: MemoryBudget) {
  if (!o.force && (await upToDate(job, dest, scratch, o))) return { outcome: 'skipped' as const, bytes: 0 };
  if (o.dryRun) return { outcome: 'planned' as const, bytes: 0 };
  const input = await source.localCopy(job.input.name, scratch);
  const staged = await dest.staging(job.output, scratch);
  try {
    const pyramid = await writePyramid(sharp, input, staged, o, budget);
    const levels = await levelsMetadata(staged);
    // The keys the S3 source reads (src/sources/s3-hints.ts): serverless-iiif's names, plus the
    // level sizes so that info.json of a pyramid needs no read of the object; and, for the next
    // run, the input's time.
    await dest.put(job.output, staged, job.input.modified, {
      ...(levels ? { levels } : {}),
      width: String(pyramid.width),
      height: String(pyramid.height),
      tilewidth: String(o.tileSize),
      tileheight: String(o.tileSize),
      quality: String(o.quality),
      pages: String(pyramid.pages),
      sourcemodified: job.input.modified.toISOString(),
    });
    return { outcome: 'converted' as const, bytes: pyramid.bytes };
  } finally {
    await rm(staged, { force: true });
    if (input.startsWith(scratch)) await rm(input, { force: true });
  }
}
