import { Command, CommanderError, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import type { Env } from '../../src/config.ts';
import { FLAGS, withFlagValues } from './server-flags.ts';

const attribute = (flags: string) => new Option(flags).attributeName();

/** The server's command line, for `iiif-edge` (adapters/cli), and for `npm start` past its plain flags (cli.ts). */
export function serverCommand(): Command {
  const program = new Command('iiif-edge')
    .description('IIIF Image API 3.0 and 2.1 server')
    .version(pkg.version, '-v, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .allowExcessArguments(false)
    .exitOverride()
    // Wide enough that each flag, its default and its variable fit on one line.
    .configureHelp({ helpWidth: 120 })
    .configureOutput({
      // One line, our name first; commander's own words say what was wrong.
      outputError: (text, write) => write(`iiif-edge: ${text.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`),
    })
    .addHelpText(
      'after',
      '\nEvery other setting is read from its environment variable (docs/configuration.md).\nExit codes: 0 stopped by SIGTERM or SIGINT (after draining; a second signal exits at once with 1), 2 bad flag or setting, 1 anything else.',
    );
  for (const [flags, key, description] of FLAGS) program.addOption(new Option(flags, description).env(key));
  return program;
}

/**
 * The settings the command line names, over `env`. Help and version are printed, and usage
 * errors told in one line, by commander; the process then exits (0 and 2).
 */
export function commandSettings(argv: readonly string[], env: Env): Env {
  try {
    const program = serverCommand().parse([...argv], { from: 'user' });
    const values = program.opts<Record<string, string | undefined>>();
    // commander also reads the variable when the flag is absent.
    return withFlagValues(env, (flags) => values[attribute(flags)]);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    throw e;
  }
}
