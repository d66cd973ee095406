import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/**
 * Graceful shutdown that lets every response finish. Node's own `server.close()` and
 * `closeIdleConnections()` count a response whose `end()` was called as done, and so cut a
 * large body still being written to a slow reader; here a connection is idle only once all of
 * its responses were handed to the kernel ('finish') and it waits for its next request.
 */
export function trackConnections(server: Server) {
  /**
   * Each open connection and its latest response. Responses on a connection finish in order, so
   * it is idle once that one was handed to the kernel (`writableFinished`) or was cut: no
   * per-request listeners, which showed in the profile of small responses.
   */
  const latest = new Map<Socket, ServerResponse | undefined>();
  const idle = (res: ServerResponse | undefined) => !res || res.writableFinished || res.destroyed;
  /** Connections and requests seen so far: any change means the server was not quiet. */
  let arrivals = 0;
  let draining = false;
  server.on('connection', (socket: Socket) => {
    arrivals++;
    latest.set(socket, undefined);
    socket.once('close', () => latest.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    arrivals++;
    latest.set(req.socket, res);
    if (draining) res.shouldKeepAlive = false;
  });

  return {
    /**
     * Runs `task` once, when no connection or request has arrived and no response has been in
     * flight for `quietMs` (checked every `quietMs`; a server that is never quiet never runs it).
     */
    whenQuiet(quietMs: number, task: () => void): void {
      let seen = -1;
      const check = () => {
        let busy = false;
        for (const res of latest.values()) busy ||= !idle(res);
        if (arrivals === seen && !busy) return task();
        seen = arrivals;
        setTimeout(check, quietMs).unref();
      };
      setTimeout(check, quietMs).unref();
    },
    /** Stops accepting; ends idle connections as they become idle, and drops the rest after `graceMs`. */
    drain(graceMs: number): Promise<void> {
      // Answers from now on say `Connection: close`, so that no client sends a request on a
      // connection about to be ended (it was reset); those still being made say it too.
      draining = true;
      for (const res of latest.values()) if (res && !res.headersSent) res.shouldKeepAlive = false;
      return new Promise<void>((ok) => {
        const endIdle = () => {
          // end(), not destroy(): bytes already handed to the kernel still reach the client.
          for (const [socket, res] of latest) if (idle(res) && !socket.writableEnded) socket.end();
        };
        const ticker = setInterval(endIdle, 50);
        const deadline = setTimeout(() => {
          for (const socket of latest.keys()) socket.destroy();
          server.closeAllConnections();
        }, graceMs);
        // The plain net close: http's own would first destroy connections it wrongly thinks idle.
        NetServer.prototype.close.call(server, () => {
          clearInterval(ticker);
          clearTimeout(deadline);
          ok();
        });
        endIdle();
      });
    },
  };
}
