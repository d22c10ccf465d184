const ids = new WeakMap<object, number>();
let last = 0;

/**
 * The `seed` of a plugin that takes options. Elysia keeps one copy of a named plugin per app and
 * drops a second `use` with the same name and seed; without a seed, a second copy with other
 * options (another registry, another queue) would be dropped silently. Objects count by identity
 * (JSON of a registry or a queue would be huge or circular); other values as they are.
 */
export function seedOf(...parts: unknown[]): string {
  return parts
    .map((part) => {
      if (typeof part !== 'object' || part === null) return JSON.stringify(part);
      let id = ids.get(part);
      if (id === undefined) ids.set(part, (id = ++last));
      return `#${id}`;
    })
    .join(',');
}
