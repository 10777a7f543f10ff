import variant from '@jitl/quickjs-singlefile-mjs-release-sync';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  shouldInterruptAfterDeadline,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten-core';
import { boundedMessage } from './ts013.js';

// A payload codec is someone else's JavaScript. It runs in QuickJS compiled to WebAssembly, not
// in Node: it sees no process, require, file system or network, only the language itself, and
// each call is bounded in time, memory, stack depth and the size of what it returns. Nothing it
// does can reach the connector's memory or delay it beyond its time limit.

export interface CodecLimits {
  /** Per call, and for loading the codec. */
  timeMs: number;
  /** The codec's whole memory: its WebAssembly memory's maximum, and QuickJS's own limit. */
  memoryBytes: number;
  /** The JSON text of one result. */
  outputBytes: number;
}

export const DEFAULT_CODEC_LIMITS: CodecLimits = {
  timeMs: 100,
  memoryBytes: 32 * 1024 * 1024,
  outputBytes: 64 * 1024,
};

// QuickJS counts its own stack (in WebAssembly memory); the same recursion also uses Node's stack,
// several times as much where QuickJS recurses natively. With 256 KiB, JSON.stringify of arrays
// nested ~5,500 deep ran out of Node's stack first. 64 KiB stops JSON.parse, JSON.stringify and
// String() of nested data, and ~370 nested calls, inside QuickJS; parsing deeply nested source can
// still run out of Node's stack first, which call() and load() survive (see abandon()).
const MAX_STACK_BYTES = 64 * 1024;

/** What a codec function returned, as the JSON it serialised to, or why there is none. */
export type SandboxResult = { ok: true; value: unknown } | { ok: false; error: string };

export type CodecFunction = 'decodeUplink' | 'encodeDownlink' | 'decodeDownlink';

// Defined in the sandbox before the codec. Codecs as device makers ship them define top-level
// functions; some also assign module.exports, or log with console.
const PRELUDE = `
var module = { exports: {} };
var exports = module.exports;
var console = { log: function () {}, info: function () {}, warn: function () {}, error: function () {}, debug: function () {} };
`;

// Runs one codec function on JSON input; returns JSON text, or undefined when the codec has no
// such function. A Date for recvTime, as TS013 says.
const RUNNER = `
(function (name, inputJson) {
  var input = JSON.parse(inputJson);
  if (typeof input.recvTime === 'string') input.recvTime = new Date(input.recvTime);
  var fn = typeof globalThis[name] === 'function' ? globalThis[name]
    : module.exports && typeof module.exports[name] === 'function' ? module.exports[name]
    : undefined;
  if (fn === undefined) return undefined;
  var output = fn(input);
  var text = JSON.stringify(output === undefined ? null : output);
  return text === undefined ? 'null' : text;
})
`;

// One line about what the codec threw. Made in the sandbox, within the call's time limit: reading
// a thrown value's message or JSON runs the codec's own getters and toJSON. Defined before the
// codec loads, with the JSON.stringify of that time.
const DESCRIBE = `
(function (stringify) {
  return function (thrown) {
    try {
      if (typeof thrown === 'object' && thrown !== null && 'message' in thrown)
        return (typeof thrown.name === 'string' ? thrown.name : 'Error') + ': ' + String(thrown.message);
      var json = typeof thrown === 'symbol' ? undefined : stringify(thrown);
      return 'threw ' + (json === undefined ? String(thrown) : json);
    } catch (e) {
      return 'threw something that cannot be described';
    }
  };
})(JSON.stringify)
`;

// Node's WebAssembly global; the compiler's libraries (no DOM) declare neither it nor its types.
const WasmMemory = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (limits: { initial: number; maximum: number }) => object;
    };
  }
).WebAssembly.Memory;

// The WebAssembly build of QuickJS starts with 16 MiB of memory and cannot start with less.
const WASM_PAGE_BYTES = 64 * 1024;
const INITIAL_PAGES = 256;

/**
 * A QuickJS WebAssembly module of the codec's own, whose memory cannot grow past the codec's
 * limit. QuickJS's own memory limit stops a single large allocation, but does not add up what a
 * codec keeps (quickjs-emscripten #271): without this bound, a codec keeping 1 MB arrays call
 * after call would take the process's memory. Only the first module compiles (~250 ms); later
 * ones reuse the compiled code (a few ms).
 */
function codecModule(limits: CodecLimits): Promise<QuickJSWASMModule> {
  const maximum = Math.max(INITIAL_PAGES, Math.ceil(limits.memoryBytes / WASM_PAGE_BYTES));
  const wasmMemory = new WasmMemory({ initial: INITIAL_PAGES, maximum });
  return newQuickJSWASMModuleFromVariant(newVariant(variant, { wasmMemory }));
}

interface Instance {
  runtime: QuickJSRuntime;
  context: QuickJSContext;
  runner: QuickJSHandle;
  describe: QuickJSHandle;
}

/**
 * A loaded codec: its own QuickJS runtime, rebuilt by the next call after one that ran out of time,
 * memory or stack.
 */
export class SandboxedCodec {
  /** Undefined from a call that freed a broken runtime until the next call, which loads anew. */
  private instance: Instance | undefined;
  /** Set once the codec broke its sandbox, or was disposed: every call fails with it. */
  private broken: string | undefined;

  private constructor(
    private readonly module: QuickJSWASMModule,
    private readonly source: string,
    readonly limits: CodecLimits,
  ) {
    this.instance = this.instantiate();
  }

  /** Loads a codec; throws CodecLoadError when its source does not run. */
  static async load(source: string, limits: CodecLimits = DEFAULT_CODEC_LIMITS) {
    return new SandboxedCodec(await codecModule(limits), source, limits);
  }

  /** Calls one of the codec's functions; never throws for anything the codec does. */
  call(name: CodecFunction, input: unknown): SandboxResult {
    if (this.broken !== undefined) return { ok: false, error: this.broken };
    const inputJson = JSON.stringify(input);
    try {
      this.instance ??= this.instantiate();
    } catch (error) {
      if (error instanceof CodecLoadError) return { ok: false, error: error.message };
      throw error;
    }
    try {
      return this.run(this.instance, name, inputJson);
    } catch (error) {
      return { ok: false, error: this.abandon(error) };
    }
  }

  dispose(): void {
    this.broken ??= 'the codec was disposed';
    this.reset();
  }

  /** Frees the runtime; the next call loads the codec again, in a new one. */
  private reset(): void {
    const instance = this.instance;
    this.instance = undefined;
    if (instance === undefined) return;
    const { runtime, context, runner, describe } = instance;
    runner.dispose();
    describe.dispose();
    context.dispose();
    runtime.dispose();
  }

  private run(instance: Instance, name: CodecFunction, inputJson: string): SandboxResult {
    const { runtime, context, runner } = instance;
    const deadline = Date.now() + this.limits.timeMs;
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(deadline));
    const args = [context.newString(name), context.newString(inputJson)];
    const outcome = context.callFunction(runner, context.undefined, ...args);
    for (const arg of args) arg.dispose();
    const error = outcome.error && this.describe(context, instance.describe, outcome.error);
    runtime.removeInterruptHandler();
    if (outcome.error) {
      // Out of time or memory, the runtime may be left half way through anything: start afresh.
      if (error === undefined || /\binterrupted\b|out of memory|stack overflow/.test(error))
        this.reset();
      if (ranOutOfTime(error, deadline)) return { ok: false, error: this.timeout() };
      return { ok: false, error: error ?? 'the codec threw something that cannot be described' };
    }
    const type = context.typeof(outcome.value);
    const text = type === 'string' ? context.getString(outcome.value) : undefined;
    outcome.value.dispose();
    if (type === 'undefined') return { ok: false, error: `the codec has no ${name} function` };
    if (text === undefined) return { ok: false, error: 'the codec returned no JSON' };
    if (Buffer.byteLength(text) > this.limits.outputBytes)
      return {
        ok: false,
        error: `the codec returned ${Buffer.byteLength(text)} bytes of JSON; at most ${this.limits.outputBytes} are kept`,
      };
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
      // The codec replaced JSON.stringify.
      return { ok: false, error: 'the codec returned text that is not JSON' };
    }
  }

  /**
   * What the codec threw, described in the sandbox (its getters and toJSON run there, within the
   * time limit); undefined when that failed too. Disposes the thrown handle.
   */
  private describe(
    context: QuickJSContext,
    describe: QuickJSHandle,
    thrown: QuickJSHandle,
  ): string | undefined {
    const described = context.callFunction(describe, context.undefined, thrown);
    thrown.dispose();
    if (described.error) {
      described.error.dispose();
      return undefined;
    }
    const text =
      context.typeof(described.value) === 'string' ? context.getString(described.value) : undefined;
    described.value.dispose();
    return text === undefined ? undefined : boundedMessage(text);
  }

  private timeout(): string {
    return `the codec ran longer than ${this.limits.timeMs} ms`;
  }

  /**
   * Node itself failed inside the WebAssembly: its stack ran out under deeply nested code or data.
   * What QuickJS was doing was cut off half way, so the runtime is left as it is (freeing it
   * aborts), and the codec is not run again; its module, which no other codec shares, goes with
   * it.
   */
  private abandon(error: unknown): string {
    this.instance = undefined;
    this.broken = `the codec broke its sandbox (${boundedMessage(String(error))})`;
    return this.broken;
  }

  private instantiate(): Instance {
    const runtime = this.module.newRuntime();
    runtime.setMemoryLimit(this.limits.memoryBytes);
    runtime.setMaxStackSize(MAX_STACK_BYTES);
    const context = runtime.newContext();
    const describe = context.unwrapResult(context.evalCode(DESCRIBE, 'describe.js'));
    const deadline = Date.now() + this.limits.timeMs;
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(deadline));
    let loaded;
    let error: string | undefined;
    try {
      loaded = context.evalCode(`${PRELUDE}\n${this.source}`, 'codec.js');
      error = loaded.error && this.describe(context, describe, loaded.error);
    } catch (thrown) {
      throw new CodecLoadError(`the codec does not load: ${this.abandon(thrown)}`);
    }
    runtime.removeInterruptHandler();
    if (loaded.error) {
      describe.dispose();
      context.dispose();
      runtime.dispose();
      throw new CodecLoadError(
        ranOutOfTime(error, deadline)
          ? this.timeout()
          : `the codec does not load: ${error ?? 'it threw something that cannot be described'}`,
      );
    }
    loaded.value.dispose();
    const runner = context.unwrapResult(context.evalCode(RUNNER, 'runner.js'));
    return { runtime, context, runner, describe };
  }
}

/** The codec's source throws, or runs out of time or memory, as it loads. */
export class CodecLoadError extends Error {
  override name = 'CodecLoadError';
}

/**
 * Whether a call or load failed for its time: QuickJS's interrupt, or a failure past the deadline
 * that could not even be described (the description ran out of time too).
 */
function ranOutOfTime(error: string | undefined, deadline: number): boolean {
  return error === 'InternalError: interrupted' || (error === undefined && Date.now() > deadline);
}
