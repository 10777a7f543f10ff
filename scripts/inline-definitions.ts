import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { formatAs } from './generated-text.js';
import {
  TEMPLATE_PATH,
  definitionFileOf,
  loadTemplate,
  readBesideTemplate,
  resourcesOfType,
} from '../local/template/sam-template.js';

// Copies each state machine's definition file (its Metadata.DefinitionFile, the one file people
// edit) into template.yaml as its inline Definition. Inline because the Serverless Application
// Repository copies a function's code for the accounts that deploy the application, but not a
// DefinitionUri: they would read it from the publisher's bucket and be refused (docs/deploy.md: Publish
// to the Serverless Application Repository).
//   npm run generate        (with every other generated file; a test fails while the two differ)

/** template.yaml with every state machine's Definition block made from its definition file. */
export async function inlineDefinitions(templateText: string): Promise<string> {
  let text = templateText;
  for (const [id] of resourcesOfType(loadTemplate(), 'AWS::Serverless::StateMachine')) {
    text = replaceDefinition(text, id, readBesideTemplate(definitionFileOf(loadTemplate(), id)));
  }
  return formatAs(TEMPLATE_PATH, text);
}

// The block from `      Definition:` to the next property of the same resource.
function replaceDefinition(text: string, id: string, definitionJson: string): string {
  const resourceAt = text.indexOf(`\n  ${id}:\n`);
  if (resourceAt < 0) throw new Error(`template.yaml has no resource ${id}`);
  const start = text.indexOf('\n      Definition:', resourceAt);
  const next = start < 0 ? -1 : text.slice(start + 1).search(/\n {6}[A-Za-z]/);
  if (start < 0 || next < 0) {
    throw new Error(`${id} has no Definition block to replace in template.yaml`);
  }
  const end = start + 1 + next;
  const yaml = stringify(JSON.parse(definitionJson), { lineWidth: 0 }).trimEnd();
  return `${text.slice(0, start)}\n      Definition:\n        ${yaml.replaceAll('\n', '\n        ')}${text.slice(end)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const before = readFileSync(TEMPLATE_PATH, 'utf8');
  const after = await inlineDefinitions(before);
  writeFileSync(TEMPLATE_PATH, after);
  console.log(
    before === after
      ? 'template.yaml: definitions already inline'
      : `template.yaml: definitions inlined (${join('statemachines', '*.asl.json')})`,
  );
}
