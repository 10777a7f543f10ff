import { acceptDownlinks } from '../test/helpers/downlink-harness.js';
import { startFakeHttpServer } from '../test/helpers/fake-http-server.js';

// A stand-in OrbiWAN for the benchmarks: the tests' fake OrbiWAN, accepting every downlink POST at
// once, and noting when each arrived, keyed by its payload (the benchmarks make every payload
// unique).

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
  let posts = 0;
  const accept = acceptDownlinks();
  const orbiwan = await startFakeHttpServer((request) => {
    if (request.method === 'POST' && request.path.endsWith('/payloads/dl')) {
      const at = performance.now();
      posts += 1;
      arrivals.set(request.body, at);
      waiting.get(request.body)?.(at);
      waiting.delete(request.body);
    }
    return accept(request);
  });
  return {
    url: orbiwan.url,
    arrival: (data) => {
      const at = arrivals.get(data);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => waiting.set(data, resolve));
    },
    posts: () => posts,
    close: orbiwan.close,
  };
}
