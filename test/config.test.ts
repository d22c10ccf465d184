import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ConfigSchema, loadConfig } from '../src/config';
import { renderConfigTable } from './support/config-table';
import { REPO_ROOT } from './support/service';

describe('loadConfig', () => {
  test('defaults: the seed port, all interfaces, info logs, 16 KiB bodies', () => {
    expect(loadConfig({})).toMatchObject({
      PORT: 8000,
      HOST: '0.0.0.0',
      LOG_LEVEL: 'info',
      BODY_LIMIT_BYTES: 16_384,
      SHUTDOWN_GRACE_MS: 10_000,
      SHUTDOWN_DRAIN_MS: 1_000,
    });
    expect(loadConfig({}).METRICS_PORT).toBeUndefined();
  });

  test('reads values, trims text that is not a number; empty means unset', () => {
    expect(
      loadConfig({ PORT: '9000', HOST: ' 127.0.0.1 ', METRICS_PORT: '9100', LOG_LEVEL: 'debug', BODY_LIMIT_BYTES: '', FAILURE_RATE: '.25' }),
    ).toMatchObject({
      PORT: 9000,
      HOST: '127.0.0.1',
      METRICS_PORT: 9100,
      LOG_LEVEL: 'debug',
      BODY_LIMIT_BYTES: 16_384,
      FAILURE_RATE: 0.25,
    });
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'invalid PORT="abc": must be an integer from 0 to 65535'],
    [{ PORT: '80.5' }, 'invalid PORT="80.5": must be an integer from 0 to 65535'],
    [{ PORT: '1e3' }, 'invalid PORT="1e3": must be an integer from 0 to 65535'],
    [{ PORT: '0x50' }, 'invalid PORT="0x50": must be an integer from 0 to 65535'],
    // Plain decimal text: white space around a number is a typo to report, not to guess at.
    [{ PORT: ' 8000' }, 'invalid PORT=" 8000": must be an integer from 0 to 65535'],
    [{ PORT: '8000\n' }, 'invalid PORT="8000\\n": must be an integer from 0 to 65535'],
    [{ BODY_LIMIT_BYTES: '16384 ' }, 'invalid BODY_LIMIT_BYTES="16384 ": must be an integer from 64 to 1048576'],
    [{ PORT: '65536' }, 'invalid PORT="65536": must be an integer from 0 to 65535'],
    [{ METRICS_PORT: '-1' }, 'invalid METRICS_PORT="-1": must be an integer from 0 to 65535'],
    [{ LOG_LEVEL: 'INFO' }, 'invalid LOG_LEVEL="INFO": must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ BODY_LIMIT_BYTES: '16k' }, 'invalid BODY_LIMIT_BYTES="16k": must be an integer from 64 to 1048576'],
    [{ BODY_LIMIT_BYTES: '10' }, 'invalid BODY_LIMIT_BYTES="10": must be an integer from 64 to 1048576'],
    [{ SHUTDOWN_GRACE_MS: 'Infinity' }, 'invalid SHUTDOWN_GRACE_MS="Infinity": must be an integer from 0 to 600000'],
    [{ SHUTDOWN_DRAIN_MS: '5000', SHUTDOWN_GRACE_MS: '1000' }, 'invalid SHUTDOWN_DRAIN_MS: must not exceed SHUTDOWN_GRACE_MS'],
    [{ PORT: '8000', METRICS_PORT: '8000' }, 'invalid METRICS_PORT: must differ from PORT (leave it unset to serve /metrics on PORT)'],
    [{ QUEUE_DRIVER: 'redis' }, 'invalid QUEUE_DRIVER="redis": must be one of sqlite, memory, postgres'],
    [{ FAILURE_RATE: 'NaN' }, 'invalid FAILURE_RATE="NaN": must be a number from 0 to 1'],
    [{ LEASE_MS: '100' }, 'invalid LEASE_MS: must exceed PROCESSING_DELAY_MAX_MS (the longest attempt), or every slow job is retried as lease_expired'],
    [
      { LEASE_MS: '5000', PROCESSING_DELAY_MAX_MS: '8000' },
      'invalid LEASE_MS: must exceed PROCESSING_DELAY_MAX_MS (the longest attempt), or every slow job is retried as lease_expired',
    ],
  ];
  for (const [env, message] of bad) {
    test(`${JSON.stringify(env)} -> ${message}`, () => {
      expect(() => loadConfig(env)).toThrow(new ConfigError(message));
    });
  }

  test('every variable rejects a value of the wrong kind, naming itself', () => {
    for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
      const wrong = (schema as { type?: string }).type === 'string' ? undefined : 'not-a-valid-value';
      if (wrong === undefined) continue; // free text: any non-empty value is accepted
      let message = '';
      try {
        loadConfig({ [name]: wrong });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toStartWith(`invalid ${name}="not-a-valid-value": must be `);
    }
  });
});

describe('a real process with a bad value', () => {
  const run = async (cmd: string[], env: Record<string, string>) => {
    const proc = Bun.spawn(cmd, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  };

  for (const [env, line] of [
    [{ PORT: 'eighty' }, 'pipewatch: invalid PORT="eighty": must be an integer from 0 to 65535'],
    [{ LOG_LEVEL: 'verbose' }, 'pipewatch: invalid LOG_LEVEL="verbose": must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ BODY_LIMIT_BYTES: '16 KiB' }, 'pipewatch: invalid BODY_LIMIT_BYTES="16 KiB": must be an integer from 64 to 1048576'],
  ] as const) {
    test(`bun src/main.ts with ${JSON.stringify(env)} exits 1 with one line naming the variable and rule`, async () => {
      const { code, stdout, stderr } = await run([process.execPath, 'src/main.ts'], env);
      expect({ code, stdout, stderr }).toEqual({ code: 1, stdout: '', stderr: `${line}\n` });
    });
  }

  test('`bun run start` reads the same variables', async () => {
    const { code, stderr } = await run([process.execPath, 'run', '--silent', 'start'], { SHUTDOWN_GRACE_MS: '-5' });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n').at(-1)).toBe('pipewatch: invalid SHUTDOWN_GRACE_MS="-5": must be an integer from 0 to 600000');
  });
});

describe('README configuration table', () => {
  test('is exactly the table rendered from ConfigSchema (regenerate: bun test/support/config-table.ts)', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('<!-- section:config -->'), readme.indexOf('<!-- /section:config -->'));
    const table = section
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .join('\n');
    expect(table).toBe(renderConfigTable());
  });
});
