import { FormatRegistry } from '@sinclair/typebox';

/**
 * Lean checks for the string formats our schemas use. Importing @elysiajs/openapi (its bundled
 * @sinclair/typemap) replaces TypeBox's process-wide `uuid`, `date`, `email`… formats with zod and
 * valibot checks that build a schema on every call; validating the `uuid` in the 202 answer alone
 * took ~30% of the CPU of a POST /submit_data. Import this module after the docs plugin.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

export const LEAN_FORMATS: Record<string, (value: string) => boolean> = {
  uuid: (value) => UUID.test(value),
  'date-time': (value) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)),
};

export function installLeanFormats(): void {
  for (const [name, check] of Object.entries(LEAN_FORMATS)) FormatRegistry.Set(name, check);
}
