import { CommanderError } from 'commander';
import { ConfigError } from '../../src/config.ts';
import { runServer, serverCommand } from '../node/cli.ts';
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

try {
  await program.parseAsync(process.argv);
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
