import type { Static } from '@sinclair/typebox';
import { Type as T } from '@sinclair/typebox';
import { TracingSettings } from './settings';

const TracingSettingsSchema = T.Object(TracingSettings);
export type TracingSettingValues = Static<typeof TracingSettingsSchema>;

export type SamplerName = TracingSettingValues['OTEL_TRACES_SAMPLER'];

/** What the tracing set-up needs, resolved from the OTEL_* settings. */
export interface TracingOptions {
  exporter: TracingSettingValues['OTEL_TRACES_EXPORTER'];
  /** Where spans are posted (the `/v1/traces` URL). */
  url: string;
  protocol: TracingSettingValues['OTEL_EXPORTER_OTLP_PROTOCOL'];
  headers: Record<string, string>;
  timeoutMs: number;
  scheduleDelayMs: number;
  resource: Record<string, string>;
  sampler: SamplerName;
  ratio: number;
}

/** A tracing setting that passed its schema but not its finer rule; the message names the variable, never a header value. */
export class TracingSettingError extends Error {
  override name = 'TracingSettingError';
}

const DEFAULT_ENDPOINT = 'http://localhost:4318';

/** Resolves the validated OTEL_* settings; throws a TracingSettingError for a malformed URL, header list or attribute list. */
export function tracingOptions(settings: TracingSettingValues): TracingOptions {
  const traces = settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = settings.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url =
    traces !== undefined
      ? httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces)
      : `${httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base ?? DEFAULT_ENDPOINT).replace(/\/+$/, '')}/v1/traces`;
  const resource = keyValueList('OTEL_RESOURCE_ATTRIBUTES', settings.OTEL_RESOURCE_ATTRIBUTES, false);
  // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES, as the specification says.
  resource['service.name'] = settings.OTEL_SERVICE_NAME;
  const sampler = settings.OTEL_TRACES_SAMPLER;
  if (settings.OTEL_TRACES_SAMPLER_ARG !== undefined && !sampler.endsWith('traceidratio')) {
    throw new TracingSettingError(`invalid OTEL_TRACES_SAMPLER_ARG: only used by the traceidratio samplers, but OTEL_TRACES_SAMPLER=${sampler}`);
  }
  return {
    exporter: settings.OTEL_TRACES_EXPORTER,
    url,
    protocol: settings.OTEL_EXPORTER_OTLP_PROTOCOL,
    headers: keyValueList('OTEL_EXPORTER_OTLP_HEADERS', settings.OTEL_EXPORTER_OTLP_HEADERS, true),
    timeoutMs: settings.OTEL_EXPORTER_OTLP_TIMEOUT,
    scheduleDelayMs: settings.OTEL_BSP_SCHEDULE_DELAY,
    resource,
    sampler,
    ratio: settings.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
}

function httpUrl(name: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TracingSettingError(`invalid ${name}=${JSON.stringify(text)}: must be an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TracingSettingError(`invalid ${name}=${JSON.stringify(text)}: must be an http:// or https:// URL`);
  if (url.username || url.password) throw new TracingSettingError(`invalid ${name}: must not hold credentials (put them in OTEL_EXPORTER_OTLP_HEADERS)`);
  return text;
}

const KEY = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * The `key=value,key2=value2` lists of OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES
 * (values percent-decoded). `secret`: header values are credentials, so errors never quote them.
 */
function keyValueList(name: string, text: string | undefined, secret: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  const entries = text.split(',');
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const key = eq > 0 ? entry.slice(0, eq).trim() : '';
    const where = secret ? `entry ${i + 1}` : JSON.stringify(entry);
    if (!KEY.test(key)) throw new TracingSettingError(`invalid ${name}: ${where} must be key=value with a key of letters, digits or . _ -`);
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      throw new TracingSettingError(`invalid ${name}: ${where} has a malformed %-escape in its value`);
    }
    out[secret ? key.toLowerCase() : key] = value;
  }
  return out;
}
