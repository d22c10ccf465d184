import { Database, SQLiteError } from 'bun:sqlite';
import { chmodSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { QueueStartError } from '../types';

/**
 * Opening the queue's files in DATA_DIR: the directory and file modes, the one-owner lock, the
 * connection settings, the start-up checks, and the one-line errors that say what to fix.
 */

export const QUEUE_FILE = 'queue.sqlite';
/** Held locked by the one process that owns DATA_DIR (see acquireOwnership). */
export const OWNER_LOCK_FILE = 'queue.lock';

/** Citizen records: only the service user may read them, whatever the umask. */
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/**
 * Creates DATA_DIR (mode 0700) if needed. Returns the mode of an existing directory that others
 * may read or enter, for a warning (it is the operator's directory: not changed behind their back).
 */
export function prepareDataDir(dir: string): { exposedMode: string | undefined } {
  let created: string | undefined;
  try {
    created = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    if (code === 'EEXIST') {
      throw new QueueStartError(`cannot use DATA_DIR=${dir}: it is a file, not a directory; point DATA_DIR at a directory or move the file away`);
    }
    if (code === 'ENOTDIR') {
      throw new QueueStartError(
        `cannot create DATA_DIR=${dir}: one of its parents is a file, not a directory; point DATA_DIR at a directory or move the file away`,
      );
    }
    throw new QueueStartError(`cannot create DATA_DIR=${dir} (${code}); create it with write access for the service user, or point DATA_DIR elsewhere`);
  }
  // mkdir's mode is filtered by the umask (0022 leaves 0700 alone, but 0077 is not the only one
  // in use): set it exactly on what we created.
  if (created !== undefined) chmodSync(dir, DIR_MODE);
  const stat = statSync(dir);
  if (!stat.isDirectory()) {
    throw new QueueStartError(`cannot use DATA_DIR=${dir}: it is not a directory; point DATA_DIR at a directory or move the file away`);
  }
  const exposed = created === undefined && (stat.mode & 0o007) !== 0;
  return { exposedMode: exposed ? `0${(stat.mode & 0o777).toString(8)}` : undefined };
}

/**
 * Creates `file` empty with mode 0600 if it does not exist yet. SQLite gives the `-wal` and `-shm`
 * files it creates the mode of the database file, so these two cover every file of the queue.
 */
export function createPrivateFile(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  closeSync(fd);
  chmodSync(file, FILE_MODE); // the umask may have taken bits away from 0600; never added any
}

/**
 * An exclusive SQLite lock on a file of its own, held until the process closes it or dies (the
 * kernel drops the lock with the process, so a crash never leaves a stale lock). The queue file
 * itself stays in normal locking mode so that the checkpoint worker can open it too.
 */
export function acquireOwnership(lockFile: string): Database {
  createPrivateFile(lockFile);
  const owner = new Database(lockFile, { create: true, readwrite: true });
  try {
    // A predecessor that is just exiting releases the lock within moments.
    owner.exec('PRAGMA busy_timeout = 2000');
    owner.exec('PRAGMA locking_mode = EXCLUSIVE');
    owner.exec('PRAGMA journal_mode = MEMORY'); // the lock file holds no data: no journal on disk
    owner.exec('BEGIN EXCLUSIVE');
    return owner;
  } catch (error) {
    owner.close();
    const code = error instanceof SQLiteError ? error.code : undefined;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      // Not the queue: this file holds no data, so deleting it is the safe fix.
      throw new QueueStartError(`the lock file ${lockFile} in DATA_DIR=${dirname(lockFile)} is damaged (${code}); it holds no data: delete it and start again`);
    }
    throw error;
  }
}

/** SQLite's default automatic checkpoint size, used only if the checkpoint worker fails. */
export const AUTOCHECKPOINT_PAGES = 1000;
/**
 * The WAL's bound. The checkpoint worker restarts the WAL once it holds this much (see
 * checkpoint-worker.ts), and a restart truncates the file back to it. 16 MiB rather than 4: each
 * restart briefly holds the writer (~2 ms), and a quarter as many of them took the p99 of POST
 * /submit_data from ~5.4 to ~4.9 ms under bench:http's load (README), for 12 MiB more disk.
 */
export const WAL_LIMIT_BYTES = 16 * 1024 * 1024;
/**
 * The backstop, in pages of 4 KiB: should the worker's restart not get in (a starved thread on a
 * busy machine), the queue's own connection checkpoints after the commit that takes the log past
 * twice the limit. Being the only writer, its checkpoint reaches the end of the log, so the next
 * commit restarts it; the worker has copied most frames already, so it costs little.
 */
export const BACKSTOP_CHECKPOINT_PAGES = (2 * WAL_LIMIT_BYTES) / 4096;

export function configure(db: Database, synchronous: 'NORMAL' | 'FULL'): void {
  db.exec('PRAGMA busy_timeout = 2000');
  const mode = db.query<{ journal_mode: string }, []>('PRAGMA journal_mode = WAL').get()?.journal_mode;
  if (mode !== 'wal') throw new Error(`journal_mode is ${mode}, WAL is required`);
  // NORMAL in WAL mode: a commit is a write() to the WAL, durable once the process is gone;
  // FULL adds an fsync per commit, durable across power loss.
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec('PRAGMA foreign_keys = OFF');
  db.exec('PRAGMA temp_store = MEMORY');
  // A WAL restart truncates the file back to this size (it otherwise keeps its high-water size).
  db.exec(`PRAGMA journal_size_limit = ${WAL_LIMIT_BYTES}`);
  // Checkpoints run in a worker thread (checkpointer.ts), not inside commits on the event loop,
  // except for the backstop above.
  db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
}

/** Refuses a damaged file or an SQLite database that is not a queue, before any migration writes to it. */
export function checkQueueFile(db: Database, dir: string): void {
  const check = db.query<{ quick_check: string }, []>('PRAGMA quick_check(1)').get()?.quick_check;
  if (check !== 'ok') {
    throw new QueueStartError(
      `the queue file ${join(dir, QUEUE_FILE)} in DATA_DIR=${dir} failed its integrity check; restore it from a backup, or move it away to start with an empty queue`,
    );
  }
  const version = db.query<{ user_version: number }, []>('PRAGMA user_version').get()?.user_version ?? 0;
  const hasTables = (db.query<{ n: number }, []>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get()?.n ?? 0) > 0;
  if (version === 0 && hasTables) {
    throw new QueueStartError(
      `the file ${join(dir, QUEUE_FILE)} in DATA_DIR=${dir} is an SQLite database but not a pipewatch queue; move it away or point DATA_DIR elsewhere`,
    );
  }
}

export function openError(error: unknown, dir: string, file: string): QueueStartError {
  const code = error instanceof SQLiteError ? error.code : (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return new QueueStartError(
        `the queue file ${file} in DATA_DIR=${dir} is not a valid SQLite database (${code}); restore it from a backup, or move it away to start with an empty queue`,
      );
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return new QueueStartError(
        `the queue file in DATA_DIR=${dir} is locked by another process (${code}); stop the other pipewatch using it, or give this one its own DATA_DIR`,
      );
    case 'SQLITE_READONLY':
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_PERM':
    case 'SQLITE_IOERR':
    case 'SQLITE_FULL':
      return new QueueStartError(
        `cannot write the queue file ${file} in DATA_DIR=${dir} (${code}); make DATA_DIR a writable directory on a local disk with free space`,
      );
    default:
      return new QueueStartError(
        `cannot open the queue file ${file} in DATA_DIR=${dir} (${code ?? (error instanceof Error ? error.message : 'unknown error')}); check that DATA_DIR is a writable directory on a local disk`,
      );
  }
}
