import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// A stand-in OrbiWAN for the benchmarks: accepts every downlink POST at once and notes when each
// arrived, keyed by its payload (the benchmarks make every payload unique).

export interface BenchOrbiwan {
  url: string;
  /** Resolves with the time (performance.now()) the downlink with this payload arrived. */
  arrival: (data: string) => Promise<number>;
  posts: () => number;
  close: () => Promise<void>;
}

export async function startBenchOrbiwan(): Promise<BenchOrbiwan> {
  const arrivals = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  let nextId = 18_014_398_509_481_985n;
  let posts = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = performance.now();
      const data = Buffer.concat(chunks).toString();
      if (request.method === 'POST' && request.url?.includes('/payloads/dl')) {
        posts += 1;
        arrivals.set(data, at);
        waiting.get(data)?.(at);
        waiting.delete(data);
      }
      const id = (nextId++).toString();
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`{"id":${id},"fcnt":1,"port":1,"transmissionStatus":0}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    arrival: (data) => {
      const at = arrivals.get(data);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => waiting.set(data, resolve));
    },
    posts: () => posts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
