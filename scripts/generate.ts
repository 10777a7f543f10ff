import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatAs } from './generated-text.js';
import { SCHEMAS_DIR, generatedSchemaFiles } from './generate-schemas.js';
import { inlineDefinitions } from './inline-definitions.js';
import {
  withBuildMetadata,
  withEventsTable,
  withNotificationFunctions,
  withPushModeWiring,
  withTopicTable,
} from './notification-functions.js';

// Every file made from another source of truth, written at once: `npm run generate` after changing
// the notification table, a zod schema or a state machine definition (docs/development.md). A test
// fails while any file differs from what this makes.
//   schemas/*.schema.json   from the zod schemas
//   template.yaml           the notification functions and their push mode wiring, every
//                           function's build Metadata, and each state machine's inline Definition
//   docs/integration.md     the topic table
//   docs/local-stack.md     the table of sample events

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Each generated file (path relative to the repository) and the text it should hold. */
export async function generatedFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [file, text] of await generatedSchemaFiles()) files.set(`schemas/${file}`, text);
  const template = readFileSync(join(ROOT, 'template.yaml'), 'utf8');
  files.set(
    'template.yaml',
    await inlineDefinitions(
      withPushModeWiring(withBuildMetadata(withNotificationFunctions(template))),
    ),
  );
  for (const [doc, withTable] of [
    ['docs/integration.md', withTopicTable],
    ['docs/local-stack.md', withEventsTable],
  ] as const) {
    const path = join(ROOT, doc);
    files.set(doc, await formatAs(path, withTable(readFileSync(path, 'utf8'))));
  }
  return files;
}

async function main(): Promise<void> {
  const files = await generatedFiles();
  mkdirSync(SCHEMAS_DIR, { recursive: true });
  for (const stale of readdirSync(SCHEMAS_DIR).filter((file) => file.endsWith('.schema.json'))) {
    if (!files.has(`schemas/${stale}`)) rmSync(join(SCHEMAS_DIR, stale));
  }
  const changed: string[] = [];
  for (const [file, text] of files) {
    const path = join(ROOT, file);
    let before = '';
    try {
      before = readFileSync(path, 'utf8');
    } catch {
      // a new file
    }
    if (before === text) continue;
    writeFileSync(path, text);
    changed.push(file);
  }
  console.log(
    changed.length === 0
      ? 'generate: every file up to date'
      : `generate: wrote ${changed.join(', ')}`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
