import { CommanderError } from 'commander';
import { ConfigError } from '../../src/config.ts';
import { runServer } from '../node/cli.ts';
import { serverCommand } from '../node/command.ts';
import { FLAGS } from '../node/server-flags.ts';
import { UsageError } from './args.ts';
import { addCompareCommand } from './compare-command.ts';
import { addPrepareCommand } from './prepare-command.ts';

/** `iiif-edge [server flags]` serves; `iiif-edge prepare SOURCE DEST` and `iiif-edge compare` move a collection. */
const program = serverCommand()
  .description('IIIF Image API 3.0 and 2.1 server, and the tools to move a collection onto it')
  .showSuggestionAfterError()
  .action(() => runServer(process.argv.slice(2)));
addPrepareCommand(program);
addCompareCommand(program);

/**
 * Edits (insert, delete, replace, swap two neighbours) between two short words. Written here, not
 * taken from a library: commander's own suggestion (lib/suggestSimilar.js) is not exported, and
 * runs only for a program without an action of its own; a dependency for ten lines is not worth it.
 */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** Every server flag takes a value: `--root srv` is one flag, `--root=srv` too. */
const VALUED = new Set(FLAGS.map(([flags]) => flags.slice(0, flags.indexOf(' '))));

/** The first argument that is neither a flag nor a server flag's value: where a command would be. */
function firstWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('-')) return arg;
    if (VALUED.has(arg)) i++;
  }
  return undefined;
}

try {
  // The server takes flags only: a first word that is no command is a mistyped one. Commander
  // suggests commands only for a program without an action of its own, which ours has (serving).
  const argv = process.argv.slice(0, 2);
  const [first, ...rest] = process.argv.slice(2);
  // `help` and `help prepare`, as other CLIs take them.
  if (first === 'help') argv.push(...rest.slice(0, 1), '--help');
  else argv.push(...process.argv.slice(2));
  const names = program.commands.map((c) => c.name());
  const word = first === 'help' ? rest[0] : firstWord(process.argv.slice(2));
  if (word !== undefined && !word.startsWith('-') && !names.includes(word)) {
    const near = names.find((name) => distance(word, name) <= 2);
    throw new UsageError(`unknown command '${word}'${near ? ` (did you mean ${near}?)` : ''}; commands: ${names.join(', ')}`);
  }
  await program.parseAsync(argv);
} catch (e) {
  // Help and version end in a CommanderError with exit code 0; usage errors were already printed.
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  if (e instanceof UsageError || e instanceof ConfigError) {
    console.error(`iiif-edge: ${e.message}`);
    process.exit(2);
  }
  console.error(`iiif-edge: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
