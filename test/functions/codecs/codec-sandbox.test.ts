import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CodecLoadError,
  DEFAULT_CODEC_LIMITS,
  SandboxedCodec,
  type CodecLimits,
  type SandboxResult,
} from '../../../functions/codecs/codec-sandbox.js';

// Small limits keep the hostile codecs quick: a loop stops after 50 ms, a heap after 8 MiB.
const LIMITS: CodecLimits = { timeMs: 50, memoryBytes: 8 * 1024 * 1024, outputBytes: 64 * 1024 };
const UPLINK = { bytes: [0x01, 0x0a, 0xff], fPort: 7, recvTime: '2024-05-06T07:08:09.010Z' };

const loaded: SandboxedCodec[] = [];

async function load(source: string, limits: CodecLimits = LIMITS): Promise<SandboxedCodec> {
  const codec = await SandboxedCodec.load(source, limits);
  loaded.push(codec);
  return codec;
}

async function loadError(source: string): Promise<unknown> {
  return load(source).then(
    () => new Error('the codec loaded'),
    (error: unknown) => error,
  );
}

function timed(call: () => SandboxResult): { result: SandboxResult; ms: number } {
  const started = performance.now();
  const result = call();
  return { result, ms: performance.now() - started };
}

function failure(result: SandboxResult): string {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result.error;
}

afterEach(() => {
  for (const codec of loaded.splice(0)) codec.dispose();
});

describe('SandboxedCodec', () => {
  describe('with a well-behaved codec', () => {
    const TEMPERATURE = `
      function decodeUplink(input) {
        if (input.bytes.length < 2) return { errors: ['too short'] };
        var raw = (input.bytes[0] << 8) | input.bytes[1];
        return { data: { temperature: raw / 10, port: input.fPort }, warnings: [] };
      }
      function encodeDownlink(input) {
        var tenths = Math.round(input.data.setpoint * 10);
        return { bytes: [tenths >> 8, tenths & 0xff], fPort: 3 };
      }
    `;

    it('decodes an uplink into data', async () => {
      const codec = await load(TEMPERATURE);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({
        ok: true,
        value: { data: { temperature: 26.6, port: 7 }, warnings: [] },
      });
    });

    it('encodes a downlink into bytes and a port', async () => {
      const codec = await load(TEMPERATURE);

      expect(codec.call('encodeDownlink', { data: { setpoint: 21.5 }, fPort: 3 })).toEqual({
        ok: true,
        value: { bytes: [0, 215], fPort: 3 },
      });
    });

    it('runs the same codec many times with the same results', async () => {
      const codec = await load(TEMPERATURE);

      const results = Array.from({ length: 50 }, () => codec.call('decodeUplink', UPLINK));

      expect(new Set(results.map((result) => JSON.stringify(result))).size).toBe(1);
    });

    it('hands recvTime to the codec as a Date', async () => {
      const codec = await load(`
        function decodeUplink(input) {
          return { data: { isDate: input.recvTime instanceof Date, ms: input.recvTime.getTime() } };
        }
      `);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({
        ok: true,
        value: { data: { isDate: true, ms: Date.parse(UPLINK.recvTime) } },
      });
    });

    it('calls the functions a codec assigns to module.exports', async () => {
      const codec = await load(`
        module.exports = {
          decodeUplink: function (input) { return { data: { length: input.bytes.length } }; },
        };
      `);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({
        ok: true,
        value: { data: { length: 3 } },
      });
    });

    it('calls the functions a codec adds to exports', async () => {
      const codec = await load(`
        exports.decodeUplink = function (input) { return { data: input.fPort }; };
      `);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 7 } });
    });

    it('accepts and ignores what the codec logs with console', async () => {
      const codec = await load(`
        console.log('loading');
        function decodeUplink(input) {
          console.info('i'); console.warn('w'); console.error('e'); console.debug('d');
          return { data: 1 };
        }
      `);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 1 } });
    });

    it('applies the default limits when given none', async () => {
      const codec = await SandboxedCodec.load('function decodeUplink() { return { data: 1 }; }');
      loaded.push(codec);

      expect(codec.limits).toEqual(DEFAULT_CODEC_LIMITS);
      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 1 } });
    });

    it('does not let the codec change the caller’s input', async () => {
      const codec = await load(`
        function decodeUplink(input) { input.bytes.length = 0; input.fPort = 99; return { data: 1 }; }
      `);
      const input = { bytes: [1, 2, 3], fPort: 7, recvTime: UPLINK.recvTime };

      codec.call('decodeUplink', input);

      expect(input).toEqual({ bytes: [1, 2, 3], fPort: 7, recvTime: UPLINK.recvTime });
    });
  });

  describe('with a codec that returns no usable result', () => {
    it('reports a missing function by name', async () => {
      const codec = await load('function encodeDownlink() { return { bytes: [] }; }');

      expect(codec.call('decodeUplink', UPLINK)).toEqual({
        ok: false,
        error: 'the codec has no decodeUplink function',
      });
      expect(failure(codec.call('decodeDownlink', UPLINK))).toBe(
        'the codec has no decodeDownlink function',
      );
    });

    it('treats a decodeUplink that is not a function as missing', async () => {
      const codec = await load('var decodeUplink = 42;');

      expect(failure(codec.call('decodeUplink', UPLINK))).toBe(
        'the codec has no decodeUplink function',
      );
    });

    it('returns a result that has a __missing key as it is', async () => {
      const codec = await load('function decodeUplink() { return { __missing: true, data: 1 }; }');

      expect(codec.call('decodeUplink', UPLINK)).toEqual({
        ok: true,
        value: { __missing: true, data: 1 },
      });
    });

    it.each([
      ['undefined', 'return undefined;'],
      ['nothing', 'return;'],
      ['a function', 'return function () {};'],
      ['a symbol', "return Symbol('s');"],
    ])('turns %s into null', async (_what, body) => {
      const codec = await load(`function decodeUplink() { ${body} }`);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: null });
    });

    it('reports a cyclic result instead of throwing', async () => {
      const codec = await load('function decodeUplink() { var a = {}; a.self = a; return a; }');

      expect(failure(codec.call('decodeUplink', UPLINK))).toMatch(/circular/);
    });

    it('reports a result holding a BigInt instead of throwing', async () => {
      const codec = await load('function decodeUplink() { return { data: 10n }; }');

      expect(failure(codec.call('decodeUplink', UPLINK))).toMatch(/BigInt/);
    });

    it('reports text that is not JSON when the codec replaced JSON.stringify', async () => {
      const codec = await load(`
        JSON.stringify = function () { return '{'; };
        function decodeUplink() { return { data: 1 }; }
      `);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({
        ok: false,
        error: 'the codec returned text that is not JSON',
      });
    });

    it('reports no JSON when the codec made JSON.stringify return something else', async () => {
      const codec = await load(`
        JSON.stringify = function () { return 42; };
        function decodeUplink() { return { data: 1 }; }
      `);

      expect(failure(codec.call('decodeUplink', UPLINK))).toBe('the codec returned no JSON');
    });
  });

  describe('with a codec that throws', () => {
    it.each([
      ['a string', "throw 'bad bytes';", 'threw "bad bytes"'],
      ['an Error', "throw new Error('bad bytes');", 'Error: bad bytes'],
      ['a TypeError', 'null.x;', /^TypeError: /],
      ['a RangeError', "throw new RangeError('port');", 'RangeError: port'],
      ['an object', 'throw { code: 7 };', 'threw {"code":7}'],
      ['an object with a message', "throw { message: 'm' };", 'Error: m'],
      ['null', 'throw null;', 'threw null'],
      ['undefined', 'throw undefined;', 'threw undefined'],
      ['a number', 'throw 42;', 'threw 42'],
      ['a symbol', "throw Symbol('s');", 'threw Symbol(s)'],
      ['a promise', 'throw Promise.resolve(1);', 'threw {}'],
      ['a pending promise', 'throw new Promise(function () {});', 'threw {}'],
    ])('describes %s it threw', async (_what, statement, expected) => {
      const codec = await load(`function decodeUplink() { ${statement} }`);

      const error = failure(codec.call('decodeUplink', UPLINK));

      if (typeof expected === 'string') expect(error).toBe(expected);
      else expect(error).toMatch(expected);
    });

    it('cuts a 10 KB message short', async () => {
      const codec = await load("function decodeUplink() { throw new Error('x'.repeat(10000)); }");

      const error = failure(codec.call('decodeUplink', UPLINK));

      expect(error).toMatch(/^Error: x+\.\.\.$/);
      expect(error.length).toBeLessThanOrEqual(503);
    });

    it('cuts a 10 KB thrown string short', async () => {
      const codec = await load("function decodeUplink() { throw 'y'.repeat(10000); }");

      const error = failure(codec.call('decodeUplink', UPLINK));

      expect(error).toMatch(/^threw "y+\.\.\.$/);
      expect(error.length).toBeLessThanOrEqual(503);
    });

    it('says so when what it threw cannot be described', async () => {
      const codec = await load(`
        function decodeUplink() { throw { get message() { throw new Error('no'); } }; }
      `);

      expect(failure(codec.call('decodeUplink', UPLINK))).toBe(
        'threw something that cannot be described',
      );
    });

    it('keeps working after the codec threw', async () => {
      const codec = await load(`
        function decodeUplink(input) { if (input.fPort === 0) throw new Error('port 0'); return { data: input.fPort }; }
      `);

      expect(failure(codec.call('decodeUplink', { ...UPLINK, fPort: 0 }))).toBe('Error: port 0');
      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 7 } });
    });
  });

  describe('with a codec that runs too long', () => {
    const LOOPS_ON_PORT_0 = `
      function decodeUplink(input) { if (input.fPort === 0) for (;;) {} return { data: input.fPort }; }
    `;

    it('stops a call that loops forever, naming the time limit', async () => {
      const codec = await load(LOOPS_ON_PORT_0);

      const { result, ms } = timed(() => codec.call('decodeUplink', { ...UPLINK, fPort: 0 }));

      expect(result).toEqual({ ok: false, error: 'the codec ran longer than 50 ms' });
      expect(ms).toBeGreaterThanOrEqual(LIMITS.timeMs - 1);
      expect(ms).toBeLessThan(LIMITS.timeMs + 500);
    });

    it('runs the next call on the same codec, quickly', async () => {
      const codec = await load(LOOPS_ON_PORT_0);
      codec.call('decodeUplink', { ...UPLINK, fPort: 0 });

      const { result, ms } = timed(() => codec.call('decodeUplink', UPLINK));

      expect(result).toEqual({ ok: true, value: { data: 7 } });
      expect(ms).toBeLessThan(LIMITS.timeMs);
    });

    it('starts the next call from a freshly loaded codec', async () => {
      const codec = await load(`
        var calls = 0;
        function decodeUplink(input) { calls++; if (input.fPort === 0) for (;;) {} return { data: calls }; }
      `);
      codec.call('decodeUplink', UPLINK);
      codec.call('decodeUplink', { ...UPLINK, fPort: 0 });

      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 1 } });
    });

    it('fails to load a codec that loops as it loads', async () => {
      const error = await loadError('for (;;) {}\nfunction decodeUplink() { return { data: 1 }; }');

      expect(error).toBeInstanceOf(CodecLoadError);
      expect(error).toHaveProperty('message', 'the codec ran longer than 50 ms');
    });

    it('stops a result whose toJSON loops forever', async () => {
      const codec = await load(`
        function decodeUplink() { return { toJSON: function () { for (;;) {} } }; }
      `);

      expect(failure(codec.call('decodeUplink', UPLINK))).toBe('the codec ran longer than 50 ms');
    });

    it.each([
      ['toJSON', '{ toJSON: function () { for (;;) {} } }'],
      ['message getter', '{ get message() { for (;;) {} } }'],
      ['message toString', '{ message: { toString: function () { for (;;) {} } } }'],
    ])('stops describing a thrown value whose %s loops forever', async (_what, thrown) => {
      const codec = await load(`function decodeUplink() { throw ${thrown}; }`);

      const { result, ms } = timed(() => codec.call('decodeUplink', UPLINK));

      expect(result).toEqual({ ok: false, error: 'the codec ran longer than 50 ms' });
      expect(ms).toBeLessThan(LIMITS.timeMs + 500);
    });

    it('stops describing a value thrown at load whose toJSON loops forever', async () => {
      const error = await loadError('throw { toJSON: function () { for (;;) {} } };');

      expect(error).toBeInstanceOf(CodecLoadError);
      expect(error).toHaveProperty('message', 'the codec ran longer than 50 ms');
    });

    it('stops a regular expression that backtracks for ever', async () => {
      const codec = await load(`
        function decodeUplink() { return { data: /(a+)+$/.test('a'.repeat(40) + 'b') }; }
      `);

      expect(failure(codec.call('decodeUplink', UPLINK))).toBe('the codec ran longer than 50 ms');
    });
  });

  describe('with a codec that loads badly', () => {
    it('names the syntax error', async () => {
      const error = await loadError('function decodeUplink(input) { return { data: ');

      expect(error).toBeInstanceOf(CodecLoadError);
      expect(error).toHaveProperty(
        'message',
        expect.stringMatching(/^the codec does not load: SyntaxError: /),
      );
    });

    it('names what the codec threw as it loaded', async () => {
      const error = await loadError("throw new Error('no config');");

      expect(error).toBeInstanceOf(CodecLoadError);
      expect(error).toHaveProperty('message', 'the codec does not load: Error: no config');
    });

    it('describes a promise thrown as it loaded', async () => {
      const error = await loadError('throw Promise.resolve(1);');

      expect(error).toBeInstanceOf(CodecLoadError);
      expect(error).toHaveProperty('message', 'the codec does not load: threw {}');
    });
  });

  describe('with a codec that no longer loads when its runtime is rebuilt', () => {
    // The codec loads only before this time; Date.now() is Node's, inside QuickJS too.
    const EXPIRING = `
      if (Date.now() > 4e12) throw new Error('expired');
      function down(n) { return down(n + 1) + 1; }
      function decodeUplink(input) { if (input.fPort === 0) down(0); return { data: 1 }; }
    `;

    it('reports why instead of throwing, and loads it again on a later call', async () => {
      const codec = await load(EXPIRING);
      const now = vi.spyOn(Date, 'now').mockReturnValue(5e12);

      const overflow = codec.call('decodeUplink', { ...UPLINK, fPort: 0 });
      const reload = codec.call('decodeUplink', UPLINK);
      now.mockRestore();

      expect(failure(overflow)).toMatch(/stack overflow/);
      expect(reload).toEqual({ ok: false, error: 'the codec does not load: Error: expired' });
      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 1 } });
    });
  });

  describe('with a codec that uses too much memory', () => {
    const ALLOCATES_ON_PORT_0 = `
      function decodeUplink(input) {
        if (input.fPort === 0) { var a = []; for (;;) a.push(new Array(1e6).fill(1)); }
        return { data: input.fPort };
      }
    `;

    it('stops it, naming the memory', async () => {
      const codec = await load(ALLOCATES_ON_PORT_0);

      expect(failure(codec.call('decodeUplink', { ...UPLINK, fPort: 0 }))).toMatch(/out of memory/);
    });

    it('runs the next call on the same codec', async () => {
      const codec = await load(ALLOCATES_ON_PORT_0);
      codec.call('decodeUplink', { ...UPLINK, fPort: 0 });

      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 7 } });
    });

    it('bounds what it keeps from call to call, not only what one allocation asks', async () => {
      // QuickJS's own limit does not add up what a codec keeps (quickjs-emscripten #271); the
      // codec's WebAssembly memory, 16 MiB at least, cannot grow past the limit.
      const codec = await load(`
        var kept = [];
        function decodeUplink() { kept.push(new Uint8Array(1024 * 1024)); return { data: kept.length }; }
      `);
      const results = Array.from({ length: 40 }, () => codec.call('decodeUplink', UPLINK));
      const firstFailure = results.findIndex((result) => !result.ok);

      expect(firstFailure).toBeGreaterThan(0);
      expect(firstFailure).toBeLessThan(16);
      expect(failure(results[firstFailure] ?? { ok: true, value: null })).toMatch(/out of memory/);
      // Then it starts afresh, with nothing kept.
      expect(results[firstFailure + 1]).toEqual({ ok: true, value: { data: 1 } });
    });

    it('fails to load a codec that runs out of memory as it loads', async () => {
      const error = await loadError('var a = []; for (;;) a.push(new Array(1e6).fill(1));');

      expect(error).toBeInstanceOf(CodecLoadError);
      expect(error).toHaveProperty('message', expect.stringMatching(/out of memory/));
    });
  });

  describe('with a codec that recurses deeply', () => {
    it('stops endless recursion as a stack overflow, and runs the next call', async () => {
      const codec = await load(`
        function down(n) { return down(n + 1) + 1; }
        function decodeUplink(input) { if (input.fPort === 0) down(0); return { data: input.fPort }; }
      `);

      expect(failure(codec.call('decodeUplink', { ...UPLINK, fPort: 0 }))).toMatch(
        /stack overflow/,
      );
      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 7 } });
    });

    it('allows the recursion a codec needs', async () => {
      const codec = await load(`
        function depth(n) { return n === 0 ? 0 : 1 + depth(n - 1); }
        function decodeUplink() { return { data: depth(100) }; }
      `);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 100 } });
    });

    it.each([
      ['JSON.stringify', 'var a = []; for (var i = 0; i < 10000; i++) a = [a]; JSON.stringify(a);'],
      ['JSON.parse', "JSON.parse('['.repeat(10000) + ']'.repeat(10000));"],
      ['String()', 'var a = []; for (var i = 0; i < 10000; i++) a = [a]; String(a);'],
    ])('stops nested data in %s as a stack overflow', async (_what, statements) => {
      const codec = await load(`function decodeUplink() { ${statements} return { data: 1 }; }`);

      expect(failure(codec.call('decodeUplink', UPLINK))).toMatch(/stack overflow/);
    });

    it('stops a result nested too deeply to serialise', async () => {
      const codec = await load(`
        function decodeUplink() { var a = []; for (var i = 0; i < 10000; i++) a = [a]; return { data: a }; }
      `);

      expect(failure(codec.call('decodeUplink', UPLINK))).toMatch(/stack overflow/);
    });

    it('survives code nested deeper than Node’s own stack, and stops running that codec', async () => {
      const bystander = await load(
        'function decodeUplink(input) { return { data: input.fPort }; }',
      );
      const codec = await load(`
        function decodeUplink(input) {
          if (input.fPort === 0) return { data: eval('('.repeat(3000) + '1' + ')'.repeat(3000)) };
          return { data: input.fPort };
        }
      `);

      const error = failure(codec.call('decodeUplink', { ...UPLINK, fPort: 0 }));

      expect(error).toMatch(/^the codec broke its sandbox/);
      expect(codec.call('decodeUplink', UPLINK)).toEqual({ ok: false, error });
      expect(bystander.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 7 } });
      const later = await load('function decodeUplink() { return { data: 2 }; }');
      expect(later.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 2 } });
    });

    it('fails to load source nested deeper than Node’s own stack', async () => {
      const error = await loadError(`var x = ${'('.repeat(3000)}1${')'.repeat(3000)};`);

      expect(error).toBeInstanceOf(CodecLoadError);
      expect(error).toHaveProperty(
        'message',
        expect.stringMatching(/^the codec does not load: the codec broke its sandbox/),
      );
      const later = await load('function decodeUplink() { return { data: 3 }; }');
      expect(later.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 3 } });
    });
  });

  describe('with a codec that returns too much', () => {
    it('refuses a 1 MB result, naming the output limit', async () => {
      const codec = await load("function decodeUplink() { return { data: 'x'.repeat(1000000) }; }");

      expect(failure(codec.call('decodeUplink', UPLINK))).toBe(
        'the codec returned 1000011 bytes of JSON; at most 65536 are kept',
      );
    });

    it('keeps a result of exactly the limit and refuses one byte more', async () => {
      const limits = { ...LIMITS, outputBytes: 100 };
      // {"data":"..."} is 11 bytes around the string.
      const codec = await load(
        "function decodeUplink(input) { return { data: 'x'.repeat(input.fPort) }; }",
        limits,
      );

      expect(codec.call('decodeUplink', { ...UPLINK, fPort: 89 }).ok).toBe(true);
      expect(failure(codec.call('decodeUplink', { ...UPLINK, fPort: 90 }))).toBe(
        'the codec returned 101 bytes of JSON; at most 100 are kept',
      );
    });

    it('counts bytes, not characters', async () => {
      const codec = await load("function decodeUplink() { return { data: 'é'.repeat(50) }; }", {
        ...LIMITS,
        outputBytes: 100,
      });

      expect(failure(codec.call('decodeUplink', UPLINK))).toBe(
        'the codec returned 111 bytes of JSON; at most 100 are kept',
      );
    });
  });

  describe('isolation', () => {
    it('gives the codec nothing of Node', async () => {
      const codec = await load(`
        function decodeUplink() {
          return { data: [
            typeof process, typeof require, typeof fetch, typeof globalThis.process,
            typeof Function('return this')().process, typeof setTimeout, typeof Buffer,
            typeof WebAssembly, typeof std, typeof os,
          ] };
        }
      `);

      expect(codec.call('decodeUplink', UPLINK)).toEqual({
        ok: true,
        value: { data: new Array(10).fill('undefined') },
      });
    });

    it('fails a codec that calls require', async () => {
      const codec = await load("function decodeUplink() { return { data: require('fs') }; }");

      expect(failure(codec.call('decodeUplink', UPLINK))).toMatch(/^ReferenceError: .*require/);
    });

    it('fails to load a codec with a static import', async () => {
      const error = await loadError("import fs from 'fs';\nfunction decodeUplink() { return {}; }");

      expect(error).toBeInstanceOf(CodecLoadError);
      expect(error).toHaveProperty('message', expect.stringMatching(/SyntaxError/));
    });

    it('never hands a dynamically imported module to the codec', async () => {
      const codec = await load(`
        var got = 'nothing';
        function decodeUplink() {
          var loading = import('fs');
          loading.then(function (fs) { got = 'module ' + typeof fs.readFileSync; }, function (e) { got = 'failed: ' + e; });
          return { data: { got: got, loading: Object.prototype.toString.call(loading) } };
        }
      `);

      const first = codec.call('decodeUplink', UPLINK);
      const second = codec.call('decodeUplink', UPLINK);

      expect(first).toEqual({
        ok: true,
        value: { data: { got: 'nothing', loading: '[object Promise]' } },
      });
      expect(second).toEqual(first);
    });

    it('keeps a codec’s state from one call to the next', async () => {
      const codec = await load(
        'var calls = 0; function decodeUplink() { calls++; return { data: calls }; }',
      );

      const results = [1, 2, 3].map(() => codec.call('decodeUplink', UPLINK));

      expect(results).toEqual([1, 2, 3].map((calls) => ({ ok: true, value: { data: calls } })));
    });

    it('keeps two codecs of the same source apart', async () => {
      const source = 'var calls = 0; function decodeUplink() { calls++; return { data: calls }; }';
      const first = await load(source);
      const second = await load(source);

      first.call('decodeUplink', UPLINK);
      first.call('decodeUplink', UPLINK);

      expect(second.call('decodeUplink', UPLINK)).toEqual({ ok: true, value: { data: 1 } });
    });

    it('keeps one codec’s changes to the built-ins from another', async () => {
      const vandal = await load(`
        function decodeUplink() {
          globalThis.leaked = 'secret';
          Array.prototype.map = null;
          JSON.stringify = function () { return '"vandalised"'; };
          return { data: 1 };
        }
      `);
      const victim = await load(`
        function decodeUplink() {
          return { data: { leaked: typeof leaked, mapped: [1, 2].map(function (x) { return x * 2; }) } };
        }
      `);

      vandal.call('decodeUplink', UPLINK);

      expect(victim.call('decodeUplink', UPLINK)).toEqual({
        ok: true,
        value: { data: { leaked: 'undefined', mapped: [2, 4] } },
      });
    });
  });

  describe('dispose', () => {
    it('makes later calls fail instead of throwing', async () => {
      const codec = await SandboxedCodec.load(
        'function decodeUplink() { return { data: 1 }; }',
        LIMITS,
      );

      codec.dispose();

      expect(codec.call('decodeUplink', UPLINK)).toEqual({
        ok: false,
        error: 'the codec was disposed',
      });
    });

    it('may be called twice', async () => {
      const codec = await SandboxedCodec.load(
        'function decodeUplink() { return { data: 1 }; }',
        LIMITS,
      );
      codec.dispose();

      expect(() => {
        codec.dispose();
      }).not.toThrow();
    });
  });
});
