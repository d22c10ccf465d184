import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema } from '../../src/config';

/** The README's configuration table, rendered from ConfigSchema (test/config.test.ts checks they agree). */
export function renderConfigTable(): string {
  const rows = Object.entries(ConfigSchema.properties as Record<string, TSchema>).map(([name, schema]) => {
    const dflt = schema.default === undefined ? '(unset)' : `\`${schema.default}\``;
    return `| \`${name}\` | ${dflt} | ${rule(schema)} | ${String(schema.description ?? '').replaceAll('|', '\\|')} |`;
  });
  return ['| variable | default | accepted values | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function rule(schema: TSchema): string {
  if (schema.anyOf) return (schema.anyOf as TSchema[]).map((s) => `\`${s.const}\``).join(', ');
  const range = schema.minimum !== undefined ? ` ${schema.minimum}–${schema.maximum}` : '';
  if (schema.type === 'integer') return `integer${range}`;
  if (schema.type === 'number') return `number${range}`;
  return 'non-empty text';
}

if (import.meta.main) console.log(renderConfigTable());
