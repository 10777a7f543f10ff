import * as prettier from 'prettier';

// What every generator of the repository does to the text it writes: replace what lies between two
// marker lines, and format the result as prettier formats that file, so a committed file and a
// regenerated one compare equal.

/** `text` with what lies between the markers replaced by `content`; an error names a missing one. */
export function replaceBetween(
  text: string,
  [start, end]: readonly [string, string],
  content: string,
  file: string,
): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end, from);
  if (from === -1 || to === -1) throw new Error(`${file} lacks the markers ${start} ... ${end}`);
  return `${text.slice(0, from + start.length)}${content}${text.slice(to)}`;
}

/** `text` formatted as prettier formats the file at `path` (its config, its parser). */
export async function formatAs(path: string, text: string): Promise<string> {
  const options = await prettier.resolveConfig(path);
  return prettier.format(text, { ...options, filepath: path });
}
