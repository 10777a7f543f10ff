import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import { SCHEMAS_DIR, generatedSchemaFiles } from './generate-schemas.js';
import { inlineDefinitions } from './inline-definitions.js';
import {
  withBuildMetadata,
  withNotificationFunctions,
  withTopicTable,
} from './notification-functions.js';

// Every file made from another source of truth, written at once: `npm run generate` after changing
// the notification table, a zod schema or a state machine definition (docs/development.md). A test
// fails while any file differs from what this makes.
//   schemas/*.schema.json   from the zod schemas
//   template.yaml           the notification functions, every function's build Metadata, and each
//                           state machine's inline Definition
//   docs/integration.md     the topic table

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Each generated file (path relative to the repository) and the text it should hold. */
export async function generatedFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [file, text] of await generatedSchemaFiles()) files.set(`schemas/${file}`, text);
  const template = readFileSync(join(ROOT, 'template.yaml'), 'utf8');
  files.set(
    'template.yaml',
    await inlineDefinitions(withBuildMetadata(withNotificationFunctions(template))),
  );
  const integration = join(ROOT, 'docs/integration.md');
  const options = await prettier.resolveConfig(integration);
  files.set(
    'docs/integration.md',
    await prettier.format(withTopicTable(readFileSync(integration, 'utf8')), {
      ...options,
      filepath: integration,
    }),
  );
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
