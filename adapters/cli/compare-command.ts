import { type Command, InvalidArgumentError } from 'commander';
import { ignoreClosedStdout } from './stdout.ts';
import { baseUrl, decimal, wholeNumber } from './args.ts';
import { IGNORABLE } from './compare-info.ts';

interface Flags {
  old: string;
  new: string;
  urls?: string;
  ids?: string;
  threshold: number;
  localThreshold: number;
  concurrency: number;
  rate: number;
  timeout: number;
  maxPixels: number;
  ignore?: Set<string>;
  report?: string;
}

/** `--ignore tiles,sizes`: names of checks, each one IGNORABLE. */
function checkNames(raw: string): Set<string> {
  const names = raw.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !IGNORABLE.includes(n));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown check ${unknown.map((n) => `"${n}"`).join(', ')}; expected some of ${IGNORABLE.join(', ')}.`);
  return new Set(names);
}

export function addCompareCommand(program: Command): void {
  program
    .command('compare')
    .description('replay IIIF requests against the old and the new server and report every difference')
    .requiredOption('--old <base>', 'old server base URL, e.g. https://images.example.org/iiif/3', baseUrl)
    .requiredOption('--new <base>', 'new server base URL, e.g. https://d111111abcdef8.cloudfront.net/iiif/3', baseUrl)
    .option('--urls <file>', 'URLs or paths, one a line, or an access log (common, combined, CloudFront standard)')
    .option('--ids <file>', 'identifiers, one a line: info.json, tiles at every scale factor and thumbnails of each')
    // Measured (docs/migration.md, step 3): prepare's re-encoding 0.3–7.7, wrong region/orientation/scale 9.8 and up.
    .option('--threshold <0-255>', 'largest mean absolute pixel difference still counted the same', decimal(0, 255), 9)
    .option('--local-threshold <0-255>', 'largest mean difference of any 16×16 area still counted the same', decimal(0, 255), 48)
    .option('--concurrency <n>', 'URLs compared at once', wholeNumber(1, 64), 4)
    .option('--rate <n>', 'URLs started per second (each asked of both servers), 0 for no limit', wholeNumber(0, 10_000), 10)
    .option('--timeout <ms>', 'per request', wholeNumber(1, 600_000), 30_000)
    .option('--max-pixels <n>', 'outputs larger than this are not decoded: compared by size and bytes, pixels skipped', wholeNumber(1, 2 ** 31), 25_000_000)
    .option('--ignore <checks>', `report these checks' differences as ignored, outside the exit code (comma-separated: ${IGNORABLE.join(', ')})`, checkNames)
    .option('--report <file>', 'write the full JSON report here, once the run is over')
    .addHelpText(
      'after',
      '\nExit 0 when every URL answers the same, 1 when any differs (request, status, content type, output size,\n' +
        'pixels beyond --threshold, info.json version/width/height/sizes/tiles/profile/id; --ignore excepted) or the\n' +
        'run failed, 2 on bad arguments, 3 when the old server answered no URL with 2xx (nothing was compared).',
    )
    .action(async (flags: Flags) => {
      const { runCompare } = await import('./compare.ts');
      ignoreClosedStdout();
      process.exitCode = await runCompare({
        oldBase: flags.old,
        newBase: flags.new,
        ...(flags.urls !== undefined ? { urls: flags.urls } : {}),
        ...(flags.ids !== undefined ? { ids: flags.ids } : {}),
        ...(flags.report !== undefined ? { report: flags.report } : {}),
        threshold: flags.threshold,
        localThreshold: flags.localThreshold,
        concurrency: flags.concurrency,
        rate: flags.rate,
        timeoutMs: flags.timeout,
        maxPixels: flags.maxPixels,
        ignore: flags.ignore ?? new Set(),
      });
    });
}
