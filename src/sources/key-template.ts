export interface KeyTemplate {
  /** Prepended verbatim, e.g. `images/`. */
  prefix: string;
  /** serverless-iiif's `resolverTemplate`: every `%s` becomes the identifier (`%s` alone is the identity). */
  template: string;
}

/** The object key of an identifier. split/join rather than replace, so `$&` in an identifier stays literal. */
export function objectKey(identifier: string, { prefix, template }: KeyTemplate): string {
  return prefix + template.split('%s').join(identifier);
}
