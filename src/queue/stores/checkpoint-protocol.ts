/**
 * What the queue's thread and the checkpoint worker share: slots of one Int32Array over a
 * SharedArrayBuffer. Its own module so that both sides import the numbers without the main
 * thread loading the worker's code.
 */
export const SLOT = {
  /** The stop handshake: see STOP. */
  stop: 0,
  /** WAL restarts completed so far (for tests and benchmarks). */
  restarts: 1,
  /** The WAL restart handshake: see TURN. */
  turn: 2,
} as const;
export const SLOTS = 3;

export const STOP = { running: 0, requested: 1, stopped: 2 } as const;

/**
 * Who may write while the WAL is restarted. The worker asks (`wanted`); the writer, at its next
 * commit, steps aside (`granted`) and waits for the worker's 'restarted' message instead of
 * committing into the restart. Without this the commit collided with the restart and SQLite's
 * busy handler slept in 1, 2, 5 ms steps: a 2 ms restart held the event loop for 3 to 8 ms.
 */
export const TURN = { writer: 0, wanted: 1, granted: 2 } as const;

/** The worker's message once a restart the writer stepped aside for is done. */
export const RESTARTED = 'restarted';
