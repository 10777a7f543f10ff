import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../../scripts/generate.js';

// Files made from another source of truth (the notification table, the zod schemas, the state
// machine definition) are committed as `npm run generate` writes them, or this fails.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const files = await generatedFiles();

describe('Generated files', () => {
  it.each([...files.keys()])('%s is as npm run generate writes it', (file) => {
    expect(
      readFileSync(`${ROOT}${file}`, 'utf8') === files.get(file),
      `run npm run generate: ${file} is stale`,
    ).toBe(true);
  });
});
