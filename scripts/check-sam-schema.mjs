// Checks template.yaml against the JSON Schema AWS publishes for SAM templates (draft-04, from
// aws/serverless-application-model). The schema is not ours to ship: it is read from
// ../shared/schemas/sam.schema.json, or from the path given as the first argument.
//   npm run check:sam-schema [-- path/to/sam.schema.json]
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv-draft-04';
// Run with tsx (npm run check:sam-schema), which loads the TypeScript template model.
import { loadTemplate } from '../local/template/sam-template.ts';

const schemaPath =
  process.argv[2] ??
  fileURLToPath(new URL('../../shared/schemas/sam.schema.json', import.meta.url));
if (!existsSync(schemaPath)) {
  console.error(
    `check-sam-schema: no SAM schema at ${schemaPath}; pass its path as the first argument`,
  );
  process.exit(2);
}
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema(schema, 'sam');

const template = loadTemplate();
const problems = [];

function check(what, definition, value) {
  if (!(definition in schema.definitions)) {
    problems.push(`${what}: the SAM schema has no definition ${definition}`);
    return;
  }
  const validate = ajv.getSchema(`sam#/definitions/${definition}`);
  if (validate === undefined) throw new Error(`cannot compile ${definition}`);
  if (validate(value)) return;
  for (const error of validate.errors ?? []) {
    problems.push(
      `${what}${error.instancePath}: ${error.message ?? 'invalid'} ${JSON.stringify(error.params)}`,
    );
  }
}

// Each resource is checked against its own definition: the schema's top level says "any of the
// resource kinds", whose errors would list every kind a resource is not.
if (template.Globals !== undefined) check('Globals', '__main____Globals', template.Globals);
for (const [id, resource] of Object.entries(template.Resources)) {
  if (!resource.Type.startsWith('AWS::Serverless::')) continue;
  const kind = resource.Type.slice('AWS::Serverless::'.length).toLowerCase();
  check(
    `Resources.${id}`,
    `samtranslator__internal__schema_source__aws_serverless_${kind}__Resource`,
    resource,
  );
}

if (problems.length > 0) {
  console.error(
    `template.yaml does not pass the SAM schema (${schemaPath}):\n${problems.map((p) => `- ${p}`).join('\n')}`,
  );
  process.exit(1);
}
const checked = Object.values(template.Resources).filter((r) =>
  r.Type.startsWith('AWS::Serverless::'),
).length;
console.log(
  `template.yaml passes the SAM schema: Globals and ${checked} AWS::Serverless resources checked`,
);
