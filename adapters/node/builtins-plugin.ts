import { builtinModules } from 'node:module';
import type { Plugin } from 'esbuild';

const BUILTINS = new Set(builtinModules);

/**
 * esbuild: Node built-ins that the bundled code imports come through require(), not import.
 * Importing a built-in as ESM makes Node build its namespace from every export, which runs the
 * lazy getters too: `node:http`'s load all of fetch (undici) for WebSocket classes never used,
 * about 25 ms of a cold start. Through require() the exports are read where they are used. The
 * bundle's banner defines `require`.
 */
export const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (args.kind !== 'import-statement' || !BUILTINS.has(name)) return undefined;
      return { path: name, namespace: 'builtin-by-require' };
    });
    // A CommonJS module: esbuild reads its exports on use, through getters it does not call.
    build.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`node:${args.path}`)});`,
      loader: 'js',
    }));
  },
};
