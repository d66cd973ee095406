import type { Command } from 'commander';
import { baseUrl, decimal, wholeNumber } from './args.ts';

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
  report?: string;
}

export function addCompareCommand(program: Command): void {
  program
    .command('compare')
    .description('replay IIIF requests against the old and the new server and report every difference')
    .requiredOption('--old <base>', 'old server base URL, e.g. https://images.example.org/iiif/3', baseUrl)
    .requiredOption('--new <base>', 'new server base URL, e.g. https://d111111abcdef8.cloudfront.net/iiif/3', baseUrl)
    .option('--urls <file>', 'URLs or paths, one a line, or an access log (common, combined, CloudFront standard)')
    .option('--ids <file>', 'identifiers, one a line: info.json, tiles at every scale factor and thumbnails of each')
    .option('--threshold <0-255>', 'largest mean absolute pixel difference still counted the same', decimal(0, 255), 3)
    .option('--local-threshold <0-255>', 'largest mean difference of any 16×16 area still counted the same', decimal(0, 255), 48)
    .option('--concurrency <n>', 'URLs compared at once', wholeNumber(1, 64), 4)
    .option('--rate <n>', 'URLs started per second (each asked of both servers), 0 for no limit', wholeNumber(0, 10_000), 10)
    .option('--timeout <ms>', 'per request', wholeNumber(1, 600_000), 30_000)
    .option('--max-pixels <n>', 'outputs larger than this are not decoded', wholeNumber(1, 2 ** 31), 25_000_000)
    .option('--report <file>', 'write the full JSON report here')
    .addHelpText(
      'after',
      '\nExit 0 when every URL answers the same, 1 when any differs (status, content type, output size,\n' +
        'pixels beyond --threshold, info.json width/height/sizes/tiles/profile/id host), 2 on bad arguments.',
    )
    .action(async (flags: Flags) => {
      const { runCompare } = await import('./compare.ts');
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
      });
    });
}
