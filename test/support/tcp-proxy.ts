import type { Socket, TCPSocketListener } from 'bun';

/**
 * A loopback TCP proxy for fault tests: forwards every connection to a target and can cut all of
 * them on demand (a network fault between the service and its database, which stopping the
 * server does not imitate: no error message, just a dead socket), and refuse new ones for a while.
 */
export interface TcpProxy {
  port: number;
  /** Connections currently forwarded. */
  connections(): number;
  /** Closes every forwarded connection at once (both sides), as a network failure would. */
  cutAll(): void;
  /** While true, new connections are closed as soon as they arrive. */
  refuse(on: boolean): void;
  /** While true, bytes are swallowed in both directions and sockets stay open: a network gone silent. */
  stall(on: boolean): void;
  stop(): void;
}

interface Side {
  peer: Socket<Side> | undefined;
  /** Bytes received before the peer was connected, or that the peer could not take yet. */
  pending: Uint8Array[];
  pair: Pair;
}

interface Pair {
  client: Socket<Side>;
  upstream: Socket<Side> | undefined;
}

function flush(to: Socket<Side>, queue: Uint8Array[]): void {
  while (queue.length > 0) {
    const chunk = queue[0]!;
    const written = to.write(chunk);
    if (written === chunk.byteLength) {
      queue.shift();
    } else {
      queue[0] = chunk.subarray(Math.max(0, written));
      return; // wait for drain
    }
  }
}

export function startTcpProxy(target: { host: string; port: number }): TcpProxy {
  const pairs = new Set<Pair>();
  let refusing = false;
  let stalled = false;
  const close = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.terminate();
    pair.upstream?.terminate();
  };
  const forward = (from: Socket<Side>, data: Uint8Array) => {
    if (stalled) return;
    const peer = from.data.peer;
    // Copy: Bun reuses the receive buffer after the callback returns.
    const chunk = new Uint8Array(data);
    if (!peer || from.data.pending.length > 0) {
      from.data.pending.push(chunk);
      if (peer) flush(peer, from.data.pending);
      return;
    }
    const written = peer.write(chunk);
    if (written < chunk.byteLength) from.data.pending.push(chunk.subarray(Math.max(0, written)));
  };

  const listener: TCPSocketListener<Side> = Bun.listen<Side>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(client) {
        const pair: Pair = { client, upstream: undefined };
        client.data = { peer: undefined, pending: [], pair };
        if (refusing) {
          client.terminate();
          return;
        }
        pairs.add(pair);
        Bun.connect<Side>({
          hostname: target.host,
          port: target.port,
          data: { peer: client, pending: [], pair },
          socket: {
            open(upstream) {
              if (!pairs.has(pair)) {
                upstream.terminate();
                return;
              }
              pair.upstream = upstream;
              client.data.peer = upstream;
              flush(upstream, client.data.pending);
            },
            data: forward,
            drain(upstream) {
              // upstream can take more: send what the client sent meanwhile
              flush(upstream, client.data.pending);
            },
            close: () => close(pair),
            error: () => close(pair),
            connectError: () => close(pair),
          },
        }).catch(() => close(pair));
      },
      data: forward,
      drain(client) {
        const upstream = client.data.pair.upstream;
        if (upstream) flush(client, upstream.data.pending);
      },
      close: (client) => close(client.data.pair),
      error: (client) => close(client.data.pair),
    },
  });

  return {
    port: listener.port,
    connections: () => pairs.size,
    cutAll: () => {
      for (const pair of [...pairs]) close(pair);
    },
    refuse: (on) => {
      refusing = on;
    },
    stall: (on) => {
      stalled = on;
    },
    stop: () => {
      for (const pair of [...pairs]) close(pair);
      listener.stop(true);
    },
  };
}
