import { runServer } from './cli.ts';

/** `npm start -- --root ./images --port 9000`; `--help` lists every flag with its environment variable. */
await runServer(process.argv.slice(2));
