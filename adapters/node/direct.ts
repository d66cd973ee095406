import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { type DirectAnswer, type DirectAnswers, plainTarget } from '../../src/routes/direct.ts';

/** The core's direct answers (src/routes/direct.ts) first; Hono's listener for everything else. */
export function withDirectAnswers(direct: DirectAnswers | undefined, hono: RequestListener): RequestListener {
  if (!direct) return hono;
  return (req, res) => {
    const { host } = req.headers;
    const path = req.url ?? '';
    if (!host || !plainTarget(host, path)) return hono(req, res);
    const answer = direct({ method: req.method ?? '', url: `http://${host}${path}`, header: (name) => headerOf(req, name) });
    if (!answer) return hono(req, res);
    answer.then(
      (a) => (a ? later({ req, res, answer: a, hono }) : hono(req, res)),
      () => hono(req, res),
    );
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Answers ready in one turn of the event loop are written together after it. When the server is
 * busier than its clients, each write otherwise wakes a client that went idle since the last,
 * which on this project's machines cost a seventh to a fifth of a stored tile's CPU
 * (docs/performance.md, "Answers written together"). A lone answer waits for nothing.
 */
const ready: Ready[] = [];

interface Ready {
  req: IncomingMessage;
  res: ServerResponse;
  answer: DirectAnswer;
  hono: RequestListener;
}

function later(r: Ready): void {
  if (ready.push(r) === 1) setImmediate(flush);
}

function flush(): void {
  for (const { req, res, answer, hono } of ready.splice(0)) {
    try {
      write(res, answer);
    } catch {
      // A header Node refuses to write: Hono answers instead, or the connection is cut.
      if (res.headersSent) res.destroy();
      else hono(req, res);
    }
  }
}

function write(res: ServerResponse, answer: DirectAnswer): void {
  const flat: string[] = [];
  for (const [name, value] of answer.headers) flat.push(name, value);
  if (answer.body) flat.push('Content-Length', String(answer.body.byteLength));
  res.writeHead(answer.status, flat);
  // 'finish': the body is in the socket's hands; a response cut short never hands it back.
  res.end(answer.body, answer.release);
}
