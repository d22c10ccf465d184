import { afterAll, expect, test } from 'bun:test';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAST_QUEUE_ENV, waitFor } from './support/queue';
import { serviceFleet, submit } from './support/service';

/** The queue's files hold citizen records: only the service user may read them, whatever the umask. */
const TIMEOUT_MS = 30_000;
const start = serviceFleet();
const root = mkdtempSync(join(tmpdir(), 'pipewatch-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;

test(
  'under umask 022 a DATA_DIR the service creates is 0700 and every queue file 0600 (-wal and -shm included)',
  async () => {
    const previous = process.umask(0o022); // the usual umask; the child inherits it
    try {
      const dataDir = join(root, 'created', 'data');
      const service = await start({ dataDir, env: { ...FAST_QUEUE_ENV } });
      for (let i = 0; i < 20; i++) expect((await submit(service.url)).status).toBe(202);
      await waitFor('the WAL and shared-memory files', () => {
        try {
          return statSync(join(dataDir, 'queue.sqlite-wal')).isFile() && statSync(join(dataDir, 'queue.sqlite-shm')).isFile();
        } catch {
          return false;
        }
      });
      expect(mode(dataDir)).toBe('0700');
      for (const file of ['queue.sqlite', 'queue.sqlite-wal', 'queue.sqlite-shm', 'queue.lock'])
        expect([file, mode(join(dataDir, file))]).toEqual([file, '0600']);
      expect(service.logs().some((line) => String(line.msg).includes('DATA_DIR can be read by other users'))).toBe(false);
    } finally {
      process.umask(previous);
    }
  },
  TIMEOUT_MS,
);

test(
  'an existing DATA_DIR that other users can read is used as it is, with a warning that says how to fix it',
  async () => {
    const dataDir = join(root, 'exposed');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const service = await start({ dataDir, env: { ...FAST_QUEUE_ENV } });
    const warning = await waitFor('the warning', () => service.logs().find((line) => String(line.msg).includes('DATA_DIR can be read by other users')));
    expect(warning).toMatchObject({ level: 'warn', data_dir_mode: '0755' });
    expect(String(warning.msg)).toContain('chmod 700');
    expect(mode(dataDir)).toBe('0755'); // the operator's directory is not changed behind their back
    expect(mode(join(dataDir, 'queue.sqlite'))).toBe('0600');
  },
  TIMEOUT_MS,
);
