import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/**
 * Graceful shutdown that lets every response finish. Node's own `server.close()` and
 * `closeIdleConnections()` count a response whose `end()` was called as done, and so cut a
 * large body still being written to a slow reader; here a connection is idle only once all of
 * its responses were handed to the kernel ('finish') and it waits for its next request.
 */
export function trackConnections(server: Server) {
  /** Each open connection and how many of its responses are still being written. */
  const writing = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    writing.set(socket, 0);
    socket.once('close', () => writing.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    writing.set(socket, (writing.get(socket) ?? 0) + 1);
    let done = false;
    const settle = () => {
      if (done || !writing.has(socket)) return;
      done = true;
      writing.set(socket, (writing.get(socket) ?? 1) - 1);
    };
    res.once('finish', settle);
    res.once('close', settle);
  });

  /** Connections and requests seen so far: any change means the server was not quiet. */
  let arrivals = 0;
  server.on('connection', () => arrivals++);
  server.on('request', () => arrivals++);

  return {
    /**
     * Runs `task` once, when no connection or request has arrived and no response has been in
     * flight for `quietMs` (checked every `quietMs`; a server that is never quiet never runs it).
     */
    whenQuiet(quietMs: number, task: () => void): void {
      let seen = -1;
      const check = () => {
        let inFlight = 0;
        for (const count of writing.values()) inFlight += count;
        if (arrivals === seen && inFlight === 0) return task();
        seen = arrivals;
        setTimeout(check, quietMs).unref();
      };
      setTimeout(check, quietMs).unref();
    },
    /** Stops accepting; ends idle connections as they become idle, and drops the rest after `graceMs`. */
    drain(graceMs: number): Promise<void> {
      return new Promise<void>((ok) => {
        const endIdle = () => {
          // end(), not destroy(): bytes already handed to the kernel still reach the client.
          for (const [socket, count] of writing) if (count === 0 && !socket.writableEnded) socket.end();
        };
        const idle = setInterval(endIdle, 50);
        const deadline = setTimeout(() => {
          for (const socket of writing.keys()) socket.destroy();
          server.closeAllConnections();
        }, graceMs);
        // The plain net close: http's own would first destroy connections it wrongly thinks idle.
        NetServer.prototype.close.call(server, () => {
          clearInterval(idle);
          clearTimeout(deadline);
          ok();
        });
        endIdle();
      });
    },
  };
}
