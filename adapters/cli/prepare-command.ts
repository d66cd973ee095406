import { availableParallelism } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import { ignoreClosedStdout } from './stdout.ts';
import { wholeNumber } from './args.ts';
import { parseKeyTemplate, parseRename, type Rename } from './rename.ts';

interface Flags {
  quality: number;
  tileSize: number;
  concurrency: number;
  maxInputPixels: number;
  maxMemory: number;
  force?: boolean;
  dryRun?: boolean;
  rename?: Rename[];
  keyTemplate?: string;
}

export function addPrepareCommand(program: Command): void {
  program
    .command('prepare')
    .description('convert every image under SOURCE into a tiled pyramidal JPEG TIFF under DEST, keeping relative names')
    .argument('<source>', 'folder or s3://bucket/prefix to read')
    .argument('<dest>', 'folder or s3://bucket/prefix to write (S3 settings from IIIF_S3_REGION, IIIF_S3_ENDPOINT)')
    // Q80 with 4:2:0 chroma (libvips' default for JPEG-in-TIFF): viewer-grade tiles at about half Q90's bytes.
    .option('--quality <1-100>', 'JPEG quality of the tiles', wholeNumber(1, 100), 80)
    .option('--tile-size <px>', 'tile edge in pixels, a multiple of 16', tileSize, 256)
    .option('--concurrency <n>', 'images converted at once', wholeNumber(1, 64), availableParallelism())
    .option('--max-input-pixels <n>', 'refuse larger inputs (as IIIF_MAX_INPUT_PIXELS)', wholeNumber(1, 2 ** 31), 268_402_689)
    .option('--max-memory <MB>', 'decoded pixels in flight across concurrent images; a larger one runs alone', wholeNumber(64, 1_048_576), 1024)
    .option('--rename <from:to>', 'change a name ending, e.g. .jp2:.tif (repeatable, first match wins)', parseRename)
    .option('--key-template <template>', 'output name from the name without extension, e.g. %s.tif', parseKeyTemplate)
    .option('--force', 'convert even when an up-to-date output exists')
    .option('--dry-run', 'list what would be converted or skipped, write nothing')
    .addHelpText(
      'after',
      '\nOutputs as new as their input are skipped, so an interrupted run resumes. Progress goes to stderr,\n' +
        'a JSON summary to stdout. Exit 0 when every image converted, 1 when any failed, 2 on bad arguments.',
    )
    .action(async (source: string, dest: string, flags: Flags) => {
      const { runPrepare } = await import('./prepare.ts');
      ignoreClosedStdout();
      process.exitCode = await runPrepare(source, dest, {
        quality: flags.quality,
        tileSize: flags.tileSize,
        concurrency: flags.concurrency,
        maxInputPixels: flags.maxInputPixels,
        maxMemoryBytes: flags.maxMemory * 1024 * 1024,
        force: flags.force ?? false,
        dryRun: flags.dryRun ?? false,
        rename: flags.rename ?? [],
        ...(flags.keyTemplate !== undefined ? { keyTemplate: flags.keyTemplate } : {}),
      });
    });
}

function tileSize(raw: string): number {
  const n = wholeNumber(16, 4096)(raw);
  // TIFF requires tile edges in multiples of 16.
  if (n % 16 !== 0) throw new InvalidArgumentError('expected a multiple of 16 (TIFF tiles are).');
  return n;
}
