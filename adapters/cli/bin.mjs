#!/usr/bin/env node
// The `iiif-edge` command. tsx runs the TypeScript sources on every Node 22 (type stripping
// without a flag only arrived in 22.18), so the checkout needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
