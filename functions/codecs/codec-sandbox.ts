import variant from '@jitl/quickjs-singlefile-mjs-release-sync';
import {
  newQuickJSWASMModuleFromVariant,
  shouldInterruptAfterDeadline,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten-core';

// A payload codec is someone else's JavaScript. It runs in QuickJS compiled to WebAssembly, not
// in Node: it sees no process, require, file system or network, only the language itself, and
// each call is bounded in time, memory, stack depth and the size of what it returns. Nothing it
// does can reach the connector's memory or delay it beyond its time limit.

export interface CodecLimits {
  /** Per call, and for loading the codec. */
  timeMs: number;
  /** The codec's whole heap. */
  memoryBytes: number;
  /** The JSON text of one result. */
  outputBytes: number;
}

export const DEFAULT_CODEC_LIMITS: CodecLimits = {
  timeMs: 100,
  memoryBytes: 32 * 1024 * 1024,
  outputBytes: 64 * 1024,
};

// Well inside what Node lets WebAssembly use: a deeper limit overflows Node's own stack first.
const MAX_STACK_BYTES = 256 * 1024;
// What an error message the codec made (or caused) may add to a result.
const MAX_MESSAGE_CHARACTERS = 500;

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

// Runs one codec function on JSON input; returns JSON text. A Date for recvTime, as TS013 says.
const RUNNER = `
(function (name, inputJson) {
  var input = JSON.parse(inputJson);
  if (typeof input.recvTime === 'string') input.recvTime = new Date(input.recvTime);
  var fn = typeof globalThis[name] === 'function' ? globalThis[name]
    : module.exports && typeof module.exports[name] === 'function' ? module.exports[name]
    : undefined;
  if (fn === undefined) return '{"__missing":true}';
  var output = fn(input);
  var text = JSON.stringify(output === undefined ? null : output);
  return text === undefined ? 'null' : text;
})
`;

let quickJs: Promise<QuickJSWASMModule> | undefined;

/** The WebAssembly module, compiled once per container, on the first codec's first use. */
function quickJsModule(): Promise<QuickJSWASMModule> {
  quickJs ??= newQuickJSWASMModuleFromVariant(variant).catch((error: unknown) => {
    quickJs = undefined;
    throw error;
  });
  return quickJs;
}

/** A loaded codec: its own QuickJS runtime, rebuilt after a call that ran out of time or memory. */
export class SandboxedCodec {
  private instance: { runtime: QuickJSRuntime; context: QuickJSContext; runner: QuickJSHandle };

  private constructor(
    private readonly module: QuickJSWASMModule,
    private readonly source: string,
    readonly limits: CodecLimits,
  ) {
    this.instance = this.instantiate();
  }

  /** Loads a codec; throws CodecLoadError when its source does not run. */
  static async load(source: string, limits: CodecLimits = DEFAULT_CODEC_LIMITS) {
    return new SandboxedCodec(await quickJsModule(), source, limits);
  }

  /** Calls one of the codec's functions; never throws for anything the codec does. */
  call(name: CodecFunction, input: unknown): SandboxResult {
    const { runtime, context, runner } = this.instance;
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + this.limits.timeMs));
    const args = [context.newString(name), context.newString(JSON.stringify(input))];
    const outcome = context.callFunction(runner, context.undefined, ...args);
    for (const arg of args) arg.dispose();
    runtime.removeInterruptHandler();
    if (outcome.error) {
      const error = describeError(context.dump(outcome.error));
      outcome.error.dispose();
      // Out of time or memory, the runtime may be left half way through anything: start afresh.
      if (/\binterrupted\b|out of memory|stack overflow/.test(error)) this.reset();
      return { ok: false, error: error === 'InternalError: interrupted' ? this.timeout() : error };
    }
    const text: unknown = context.dump(outcome.value);
    outcome.value.dispose();
    if (typeof text !== 'string') return { ok: false, error: 'the codec returned no JSON' };
    if (Buffer.byteLength(text) > this.limits.outputBytes)
      return {
        ok: false,
        error: `the codec returned ${Buffer.byteLength(text)} bytes of JSON; at most ${this.limits.outputBytes} are kept`,
      };
    const value: unknown = JSON.parse(text);
    if (isMissing(value)) return { ok: false, error: `the codec has no ${name} function` };
    return { ok: true, value };
  }

  dispose(): void {
    const { runtime, context, runner } = this.instance;
    runner.dispose();
    context.dispose();
    runtime.dispose();
  }

  private timeout(): string {
    return `the codec ran longer than ${this.limits.timeMs} ms`;
  }

  private reset(): void {
    this.dispose();
    this.instance = this.instantiate();
  }

  private instantiate() {
    const runtime = this.module.newRuntime();
    runtime.setMemoryLimit(this.limits.memoryBytes);
    runtime.setMaxStackSize(MAX_STACK_BYTES);
    const context = runtime.newContext();
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + this.limits.timeMs));
    const loaded = context.evalCode(`${PRELUDE}\n${this.source}`, 'codec.js');
    runtime.removeInterruptHandler();
    if (loaded.error) {
      const error = describeError(context.dump(loaded.error));
      loaded.error.dispose();
      context.dispose();
      runtime.dispose();
      throw new CodecLoadError(
        error === 'InternalError: interrupted'
          ? this.timeout()
          : `the codec does not load: ${error}`,
      );
    }
    loaded.value.dispose();
    const runner = context.unwrapResult(context.evalCode(RUNNER, 'runner.js'));
    return { runtime, context, runner };
  }
}

/** The codec's source throws, or runs out of time or memory, as it loads. */
export class CodecLoadError extends Error {
  override name = 'CodecLoadError';
}

function isMissing(value: unknown): boolean {
  return typeof value === 'object' && value !== null && '__missing' in value;
}

/** One line about what the codec threw, whatever it threw. */
function describeError(thrown: unknown): string {
  let text: string;
  if (typeof thrown === 'object' && thrown !== null && 'message' in thrown) {
    const { name, message } = thrown as { name?: unknown; message?: unknown };
    text = `${typeof name === 'string' ? name : 'Error'}: ${String(message)}`;
  } else {
    // JSON.stringify gives undefined for undefined and functions, whatever its type says.
    const json = JSON.stringify(thrown) as string | undefined;
    text = `threw ${json ?? String(thrown)}`;
  }
  return text.length > MAX_MESSAGE_CHARACTERS
    ? `${text.slice(0, MAX_MESSAGE_CHARACTERS)}...`
    : text;
}
