import { parseArgs, type ParseArgsConfig } from 'node:util';

// What the package's commands share: where they write, how a wrong command line is told, and
// the parsing of their options.

/** Where a command writes; process.stdout and process.stderr in the bin, strings in tests. */
export interface Io {
  stdout: { write: (text: string) => unknown };
  stderr: { write: (text: string) => unknown };
}

/** The command line is wrong: exit 2, with the usage hint. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What parseOptions gives for a command's options. */
export type OptionValues<T extends Options> = ReturnType<
  typeof parseArgs<{ options: T }>
>['values'];

/**
 * The options and positionals, each option given at most once: parseArgs keeps the last of a
 * repeated option, and a command that writes or publishes must not guess which one was meant.
 */
export function parseOptions<const T extends Options>(
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals, tokens: true });
  } catch (error) {
    // parseArgs's own messages name the option ("Unknown option '--prot'").
    throw new UsageError(messageOf(error));
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`);
    seen.add(token.name);
  }
  return parsed;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
