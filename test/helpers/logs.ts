import { vi } from 'vitest';

export interface CapturedLogs {
  /** Every log line, as printed. */
  text: () => string;
  /** Every log line parsed as the JSON that Powertools Logger prints. */
  entries: () => Record<string, unknown>[];
}

/**
 * Captures (and silences) what functions log. Powertools Logger writes to the global console
 * when POWERTOOLS_DEV is set (test/helpers/setup-env.ts).
 */
export function captureLogs(): CapturedLogs {
  const lines: string[] = [];
  for (const method of ['debug', 'info', 'warn', 'error', 'log'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
  }
  return {
    text: () => lines.join('\n'),
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
