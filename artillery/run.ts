/**
 * Runs one pipewatch Artillery scenario:
 *   bun artillery/run.ts <smoke|load|spike|soak|bad-input> [--target URL] [--output report.json]
 *                        [--rate N] [--duration SECONDS] [-- extra artillery args]
 *
 * The target comes from --target, else PIPEWATCH_TARGET, else the local service
 * http://127.0.0.1:8000; scenarios themselves never name a host. --rate (or LOAD_RATE) sets the
 * arrival rate of the phases named `sustained` (and the end of `ramp`), --duration (or SOAK_DURATION)
 * the length of `sustained`: the YAML keeps working defaults for a plain `artillery run`. The exit code is Artillery's:
 * non-zero when an `ensure` gate or an expectation failed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const SCENARIOS = ['smoke', 'load', 'spike', 'soak', 'bad-input'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const DEFAULT_TARGET = 'http://127.0.0.1:8000';
const ROOT = resolve(import.meta.dir, '..');
const ARTILLERY_BIN = join(ROOT, 'node_modules/artillery/bin/run');

export interface RunOptions {
  target?: string;
  /** Where Artillery writes its JSON report (aggregate + per-period metrics). */
  output?: string;
  /** Extra environment, e.g. PIPEWATCH_METRICS_URL or the soak's SOAK_DURATION. */
  env?: Record<string, string>;
  /** Merged into the scenario's config, e.g. { phases: [...], variables: {...} } (arrays replace). */
  overrides?: Record<string, unknown>;
  /** Extra `artillery run` arguments (not --overrides: use `overrides`). */
  args?: string[];
  /** New virtual users per second in the `sustained` phase (and the end of `ramp`). */
  rate?: number;
  /** Seconds of the `sustained` phase. */
  durationSeconds?: number;
  /** Inherit stdio (CLI use) or capture it (tests). */
  quiet?: boolean;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  output?: string;
}

export function scenarioFile(scenario: Scenario): string {
  return join(ROOT, 'artillery/scenarios', `${scenario}.yml`);
}

/** Rejects anything but an http(s) base URL, so a typo does not become a request to a random host. */
export function checkTarget(target: string): string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new Error(`target ${JSON.stringify(target)} is not a URL; give e.g. ${DEFAULT_TARGET}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`target must be http(s), got ${url.protocol}`);
  if (url.pathname !== '/' || url.search) throw new Error('target must be a base URL without path or query (e.g. http://127.0.0.1:8000)');
  return url.origin;
}

/** The environment Artillery needs here: no browser download, no telemetry (there is no internet). */
export function artilleryEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
    ARTILLERY_DISABLE_TELEMETRY: 'true',
    // Artillery must not pick up a proxy for loopback targets.
    NO_PROXY: '127.0.0.1,localhost',
    ...extra,
  };
}

interface Phase {
  name?: string;
  duration?: number | string;
  arrivalRate?: number | string;
  rampTo?: number | string;
  [key: string]: unknown;
}

/** The scenario's phases with rate/duration applied, as an `--overrides` JSON (arrays replace, they do not merge). */
export function phaseOverrides(scenario: Scenario, tune: { rate?: number; durationSeconds?: number }): string | undefined {
  if (tune.rate === undefined && tune.durationSeconds === undefined) return undefined;
  const script = Bun.YAML.parse(readFileSync(scenarioFile(scenario), 'utf8')) as { config: { phases: Phase[] } };
  const phases = script.config.phases.map((phase) => ({ ...phase }));
  const sustained = phases.find((phase) => phase.name === 'sustained');
  if (!sustained) throw new Error(`scenario ${scenario} has no phase named "sustained" to tune`);
  if (tune.rate !== undefined) {
    if (!(tune.rate > 0 && tune.rate <= 1000)) throw new Error('rate must be between 0 and 1000 new virtual users per second');
    sustained.arrivalRate = tune.rate;
    const ramp = phases.find((phase) => phase.name === 'ramp');
    if (ramp) ramp.rampTo = tune.rate;
  }
  if (tune.durationSeconds !== undefined) {
    // Bounded on purpose: a typo must not start a day-long run.
    if (!(Number.isInteger(tune.durationSeconds) && tune.durationSeconds > 0 && tune.durationSeconds <= 4 * 3600)) {
      throw new Error('duration must be a whole number of seconds from 1 to 14400');
    }
    sustained.duration = tune.durationSeconds;
  }
  return JSON.stringify({ config: { phases } });
}

/** One --overrides JSON (Artillery reads only one): phase tuning, caller's config, processor path. */
function mergeOverrides(...parts: Array<Record<string, unknown> | undefined>): string {
  return JSON.stringify({ config: Object.assign({}, ...parts.filter(Boolean)) });
}

function envNumber(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? undefined : Number(value);
}

/**
 * Bundles the TypeScript processor into a private temp dir. Artillery would bundle it itself into
 * artillery/processors/dist/ and delete that file when its run ends, under any other run still
 * using it; a per-run bundle lets runs (and test files) overlap safely.
 */
async function bundleProcessor(dir: string): Promise<string> {
  const built = await Bun.build({
    entrypoints: [join(ROOT, 'artillery/processors/pipewatch.ts')],
    outdir: dir,
    target: 'node',
    format: 'esm',
    naming: 'pipewatch.mjs',
  });
  if (!built.success) throw new Error(`bundling the processor failed:\n${built.logs.join('\n')}`);
  return join(dir, 'pipewatch.mjs');
}

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const target = checkTarget(options.target ?? process.env.PIPEWATCH_TARGET ?? DEFAULT_TARGET);
  const work = mkdtempSync(join(tmpdir(), 'pipewatch-artillery-run-'));
  try {
    return await runArtillery(scenario, target, await bundleProcessor(work), options);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function runArtillery(scenario: Scenario, target: string, processor: string, options: RunOptions): Promise<RunResult> {
  const args = ['run', '--target', target];
  if (options.output) {
    mkdirSync(dirname(resolve(options.output)), { recursive: true });
    args.push('--output', resolve(options.output));
  }
  const overrides = phaseOverrides(scenario, {
    rate: options.rate ?? envNumber('LOAD_RATE'),
    durationSeconds: options.durationSeconds ?? envNumber('SOAK_DURATION'),
  });
  const tuned = overrides ? (JSON.parse(overrides) as { config: Record<string, unknown> }).config : undefined;
  args.push('--overrides', mergeOverrides(tuned, options.overrides, { processor }));
  args.push(...(options.args ?? []), scenarioFile(scenario));
  // Node runs Artillery's CLI (its documented runtime); Bun runs everything else.
  const proc = Bun.spawn(['node', ARTILLERY_BIN, ...args], {
    cwd: ROOT,
    env: artilleryEnv(options.env),
    stdout: options.quiet ? 'pipe' : 'inherit',
    stderr: options.quiet ? 'pipe' : 'inherit',
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    options.quiet ? new Response(proc.stdout as ReadableStream).text() : '',
    options.quiet ? new Response(proc.stderr as ReadableStream).text() : '',
    proc.exited,
  ]);
  return { exitCode, stdout, stderr, output: options.output };
}

function parseCli(argv: string[]): { scenario: Scenario; options: RunOptions } {
  const [name, ...rest] = argv;
  if (!SCENARIOS.includes(name as Scenario)) {
    throw new Error(`usage: bun artillery/run.ts <${SCENARIOS.join('|')}> [--target URL] [--output FILE] [--rate N] [--duration S] [-- artillery args]`);
  }
  const options: RunOptions = { args: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--') {
      options.args!.push(...rest.slice(i + 1));
      break;
    } else if (arg === '--target') options.target = rest[++i];
    else if (arg === '--output') options.output = rest[++i];
    else if (arg === '--rate') options.rate = Number(rest[++i]);
    else if (arg === '--duration') options.durationSeconds = Number(rest[++i]);
    else throw new Error(`unknown option ${arg}; pass Artillery's own options after --`);
  }
  return { scenario: name as Scenario, options };
}

if (import.meta.main) {
  try {
    const { scenario, options } = parseCli(process.argv.slice(2));
    const result = await runScenario(scenario, options);
    process.exit(result.exitCode);
  } catch (error) {
    console.error(`artillery/run.ts: ${(error as Error).message}`);
    process.exit(2);
  }
}
