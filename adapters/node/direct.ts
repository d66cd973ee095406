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
      (a) => (a ? write(res, a) : hono(req, res)),
      () => hono(req, res),
    ).catch(() => {
      // A header Node refuses to write: Hono answers instead, or the connection is cut; never an unhandled rejection.
      if (res.headersSent) res.destroy();
      else hono(req, res);
    });
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function write(res: ServerResponse, answer: DirectAnswer): void {
  const flat: string[] = [];
  for (const [name, value] of answer.headers) flat.push(name, value);
  if (answer.body) flat.push('Content-Length', String(answer.body.byteLength));
  res.writeHead(answer.status, flat);
  // 'finish': the body is in the socket's hands; a response cut short never hands it back.
  res.end(answer.body, answer.release);
}
