import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { withDirectAnswers } from '../../adapters/node/direct.ts';
import type { DirectAnswer, DirectRequest } from '../../src/routes/direct.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((ok) => s.close(ok));
  }
});

const PATH = '/iiif/3/a.jpg/0,0,9,9/9,/0/default.jpg';

function fakeRequest(name: string): IncomingMessage {
  return { method: 'GET', url: `${PATH}?${name}`, headers: { host: '127.0.0.1' } } as unknown as IncomingMessage;
}

function fakeResponse(name: string, events: string[]): ServerResponse {
  const res = {
    headersSent: false,
    writeHead: (status: number) => {
      events.push(`head ${name} ${status}`);
      return res;
    },
    end: (body: Uint8Array | undefined, done?: () => void) => {
      events.push(`end ${name} ${body?.byteLength ?? 0}`);
      done?.();
      return res;
    },
  };
  return res as unknown as ServerResponse;
}

const answer = (headers: Array<[string, string]> = [['Content-Type', 'text/plain']]): DirectAnswer => ({ status: 200, headers, body: Uint8Array.of(1, 2, 3) });

describe("the Node adapter's direct answers", () => {
  it('writes the answers of one turn of the event loop after that turn, in order', async () => {
    const events: string[] = [];
    const direct = (r: DirectRequest): Promise<DirectAnswer> => {
      events.push(`asked ${r.url.split('?')[1]}`);
      return Promise.resolve(answer());
    };
    const listener = withDirectAnswers(direct, () => events.push('hono'));
    // Two callbacks of one phase with microtasks run between them, as Node reads two sockets in one poll.
    await new Promise<void>((ok) => {
      setImmediate(() => listener(fakeRequest('a'), fakeResponse('a', events)));
      setImmediate(() => listener(fakeRequest('b'), fakeResponse('b', events)));
      setImmediate(() => setImmediate(ok));
    });
    expect(events).toEqual(['asked a', 'asked b', 'head a 200', 'end a 3', 'head b 200', 'end b 3']);
  });

  it('writes a lone answer at the next check phase, and hands its buffer back once written', async () => {
    const events: string[] = [];
    let released = 0;
    const direct = (): Promise<DirectAnswer> => Promise.resolve({ ...answer(), release: () => released++ });
    withDirectAnswers(direct, () => events.push('hono'))(fakeRequest('a'), fakeResponse('a', events));
    await new Promise((ok) => setImmediate(() => setImmediate(ok)));
    expect(events).toEqual(['head a 200', 'end a 3']);
    expect(released).toBe(1);
  });

  it("lets Hono answer when Node refuses a header, and still writes the others' answers", async () => {
    const direct = (r: DirectRequest): Promise<DirectAnswer> =>
      Promise.resolve(r.url.endsWith('?bad') ? answer([['X-Bad', 'a\nb']]) : answer());
    const hono: RequestListener = (_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('from hono');
    const server = createServer(withDirectAnswers(direct, hono));
    servers.push(server);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
    const [bad, good] = await Promise.all([fetch(`${base}?bad`), fetch(`${base}?good`)]);
    expect([bad.status, await bad.text()]).toEqual([200, 'from hono']);
    expect([good.status, [...new Uint8Array(await good.arrayBuffer())]]).toEqual([200, [1, 2, 3]]);
  });
});
