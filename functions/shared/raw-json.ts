// Works on JSON text without parsing it into JavaScript values, because OrbiWAN's 64-bit ids do
// not survive JSON.parse (anything above 2^53 loses digits) and republished bodies must keep
// every byte OrbiWAN sent.

/**
 * The raw text of a top-level member's value (`"id": 18014398509481985` -> `18014398509481985`),
 * or undefined when the text is not a JSON object or has no such member.
 */
export function topLevelMember(json: string, key: string): string | undefined {
  const scanner = new Scanner(json);
  // A UTF-8 byte-order mark before the text: JSON.parse accepts it after decoding, so must this.
  scanner.take('\uFEFF');
  scanner.skipWhitespace();
  if (!scanner.take('{')) return undefined;
  scanner.skipWhitespace();
  if (scanner.take('}')) return undefined;
  for (;;) {
    scanner.skipWhitespace();
    const name = scanner.string();
    scanner.skipWhitespace();
    if (name === undefined || !scanner.take(':')) return undefined;
    scanner.skipWhitespace();
    const start = scanner.position;
    if (!scanner.value()) return undefined;
    if (JSON.parse(name) === key) return json.slice(start, scanner.position);
    scanner.skipWhitespace();
    if (scanner.take(',')) continue;
    return undefined;
  }
}

/**
 * The digits of the `id` member of an OrbiWAN downlink (a number, or a string in some versions:
 * `18014398509481985` or `"18014398509481985"`), or undefined when there is none.
 */
export function rawOrbiwanId(json: string): string | undefined {
  return topLevelMember(json, 'id')?.replace(/^"(.*)"$/, '$1');
}

/**
 * The JSON object text with members added at its end, the rest left byte for byte. A member added
 * with a name the object already has wins for every JSON parser that keeps the last duplicate
 * (JavaScript, Python, Java's Jackson). `rawMembers` are inserted as given (pre-serialised JSON).
 */
export function withMembers(
  objectJson: Uint8Array | string,
  members: Record<string, unknown>,
  rawMembers: Record<string, string> = {},
): Buffer {
  const text =
    typeof objectJson === 'string' ? objectJson : Buffer.from(objectJson).toString('utf8');
  const start = text.search(/\S/);
  const end = text.search(/\S\s*$/);
  if (text[start] !== '{' || text[end] !== '}') throw new Error('not a JSON object');
  const added = [
    ...Object.entries(rawMembers).map(([name, raw]) => `${JSON.stringify(name)}:${raw}`),
    ...Object.entries(members)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`),
  ];
  if (added.length === 0) return Buffer.from(text, 'utf8');
  const isEmpty = text.slice(start + 1, end).trim() === '';
  const insertion = `${isEmpty ? '' : ','}${added.join(',')}`;
  return Buffer.from(`${text.slice(0, end)}${insertion}${text.slice(end)}`, 'utf8');
}

class Scanner {
  position = 0;

  constructor(private readonly text: string) {}

  skipWhitespace(): void {
    while (/[ \t\n\r]/.test(this.text[this.position] ?? '')) this.position++;
  }

  take(char: string): boolean {
    if (this.text[this.position] !== char) return false;
    this.position++;
    return true;
  }

  /** A string token, quotes included, or undefined when none starts here. */
  string(): string | undefined {
    const start = this.position;
    if (!this.take('"')) return undefined;
    while (this.position < this.text.length) {
      const char = this.text[this.position++];
      if (char === '\\') this.position++;
      else if (char === '"') return this.text.slice(start, this.position);
    }
    return undefined;
  }

  /** Moves past one JSON value; false when the text is not valid there. */
  value(): boolean {
    const char = this.text[this.position];
    if (char === '"') return this.string() !== undefined;
    if (char === '{' || char === '[') return this.container();
    const scalar = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(
      this.text.slice(this.position, this.position + 400),
    );
    if (scalar === null) return false;
    this.position += scalar[0].length;
    return true;
  }

  private container(): boolean {
    const closing: string[] = [];
    while (this.position < this.text.length) {
      const char = this.text[this.position];
      if (char === '"') {
        if (this.string() === undefined) return false;
        continue;
      }
      this.position++;
      if (char === '{') closing.push('}');
      else if (char === '[') closing.push(']');
      else if (char === '}' || char === ']') {
        if (closing.pop() !== char) return false;
        if (closing.length === 0) return true;
      }
    }
    return false;
  }
}
