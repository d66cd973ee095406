// Regenerates the committed CloudFormation template: `npm run template` (here) or
// `npm run deploy:template` (repository root). test/template.test.ts fails when they drift.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTemplate, TEMPLATE_PATH } from '../lib/synth-template.ts';

const path = fileURLToPath(TEMPLATE_PATH);
mkdirSync(dirname(path), { recursive: true });
const text = renderTemplate();
writeFileSync(path, text);
console.log(`wrote ${path} (${text.length} bytes)`);
