import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { type Config, ConfigError } from '../../src/config.ts';

/** A missing or unreadable image folder stops the start, rather than serving an empty gallery. */
export async function checkRoot(config: Config): Promise<void> {
  const root = config.IIIF_ROOT;
  if (config.IIIF_SOURCE !== 'fs' || root === undefined) return;
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new ConfigError(`invalid configuration: IIIF_ROOT: ${root} does not exist`);
  if (!info.isDirectory()) throw new ConfigError(`invalid configuration: IIIF_ROOT: ${root} is not a folder`);
  await access(root, constants.R_OK | constants.X_OK).catch(() => {
    throw new ConfigError(`invalid configuration: IIIF_ROOT: ${root} is not readable by this user`);
  });
}
