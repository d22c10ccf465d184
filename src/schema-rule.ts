import type { TSchema } from '@sinclair/typebox';

/**
 * The rule a setting must follow, in words, from its TypeBox schema: config errors name the
 * rule rather than TypeBox's generic message. Shared by the service's environment config and the
 * Pulumi stack config, so both speak the same way.
 */
export function describeRule(schema: TSchema | undefined, fallback: string): string {
  if (!schema) return fallback;
  const inner: TSchema = schema.anyOf && !schema.anyOf.every((s: TSchema) => 'const' in s) ? schema.anyOf[0] : schema;
  if (inner.anyOf) return `must be one of ${inner.anyOf.map((s: TSchema) => s.const).join(', ')}`;
  if (inner.type === 'boolean') return 'must be true or false';
  if (inner.type === 'array') return `must be a JSON list of ${inner.items?.pattern ? `strings matching ${inner.items.pattern}` : 'strings'}`;
  if (inner.type === 'integer' || inner.type === 'number') {
    const kind = inner.type === 'integer' ? 'an integer' : 'a number';
    return inner.minimum !== undefined && inner.maximum !== undefined ? `must be ${kind} from ${inner.minimum} to ${inner.maximum}` : `must be ${kind}`;
  }
  return inner.pattern ? `must match ${inner.pattern} (${inner.description ?? ''})`.replace(' ()', '') : 'must be a non-empty string';
}
