// Publishes the connector to the AWS Serverless Application Repository (docs/deploy.md: Publish
// to the Serverless Application Repository):
//   SAR_BUCKET=<bucket> AWS_REGION=<region> npm run publish:sar [-- --template <template.yaml>]
// It checks what it can first (the bucket and region are given, the template's
// AWS::ServerlessRepo::Application metadata is ready), then runs, in the template's directory:
//   sam build, sam package (the code, LICENSE and the readme, docs/serverless-repo.md, go to
//   SAR_BUCKET), sam publish.
// Run with tsx (npm run publish:sar), which loads the TypeScript template model.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TEMPLATE_PATH, loadTemplate } from '../local/template/sam-template.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PLACEHOLDER = 'YOUR-ORG';

function fail(message) {
  console.error(`publish-sar: ${message}`);
  process.exit(2);
}

let options;
try {
  ({ values: options } = parseArgs({ options: { template: { type: 'string' } } }));
} catch (error) {
  fail(`${error.message}; usage: npm run publish:sar [-- --template <template.yaml>]`);
}
const templatePath = resolve(options.template ?? TEMPLATE_PATH);
const workDir = dirname(templatePath);

const bucket = (process.env.SAR_BUCKET ?? '').trim();
if (bucket === '')
  fail(
    'SAR_BUCKET is not set: name the S3 bucket that sam package uploads the code, LICENSE and ' +
      'the readme (docs/serverless-repo.md) to (in the region you publish to, with a bucket ' +
      'policy that lets serverlessrepo.amazonaws.com read it)',
  );
const region = (process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '').trim();
if (region === '')
  fail(
    'AWS_REGION (or AWS_DEFAULT_REGION) is not set: the region to publish the application in, ' +
      "the same as SAR_BUCKET's",
  );
if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region))
  fail(`AWS_REGION "${region}" is not a region name such as eu-west-1`);

let template;
try {
  template = loadTemplate(templatePath);
} catch (error) {
  fail(`cannot read the template ${templatePath}: ${error.message}`);
}
const application = template.Metadata?.['AWS::ServerlessRepo::Application'];
if (application === undefined)
  fail(`${templatePath} has no Metadata AWS::ServerlessRepo::Application to publish`);
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
if (application.SemanticVersion !== version)
  fail(
    `SemanticVersion ${String(application.SemanticVersion)} in the template is not package.json's ` +
      `version ${version}: make them equal (a published version cannot be replaced: bump both for a new one)`,
  );
const placeholders = ['HomePageUrl', 'SourceCodeUrl'].filter((key) =>
  String(application[key] ?? '').includes(PLACEHOLDER),
);
if (placeholders.length > 0)
  fail(
    `${placeholders.join(' and ')} in the template still point at ${PLACEHOLDER}: set them to the ` +
      'repository you publish from, or remove them',
  );

const samVersion = spawnSync('sam', ['--version'], { encoding: 'utf8' });
if (samVersion.error !== undefined)
  fail(
    'the AWS SAM CLI (sam) is not installed or not on PATH: ' +
      'https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html',
  );

function sam(args, { capture = false } = {}) {
  console.log(`\n$ sam ${args.join(' ')}`);
  const result = spawnSync('sam', args, {
    cwd: workDir,
    encoding: 'utf8',
    stdio: capture ? ['inherit', 'pipe', 'pipe'] : 'inherit',
  });
  if (capture) {
    process.stdout.write(result.stdout ?? '');
    process.stderr.write(result.stderr ?? '');
  }
  if (result.status !== 0) {
    console.error(`publish-sar: sam ${args[0]} failed (exit ${String(result.status)})`);
    process.exit(result.status ?? 1);
  }
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

sam(['build', '--template-file', templatePath]);
sam([
  'package',
  '--template-file',
  join('.aws-sam', 'build', 'template.yaml'),
  '--output-template-file',
  'packaged.yaml',
  '--s3-bucket',
  bucket,
  '--region',
  region,
]);
const published = sam(['publish', '--template', 'packaged.yaml', '--region', region], {
  capture: true,
});

const arn = /arn:aws[a-z-]*:serverlessrepo:[a-z0-9-]+:\d{12}:applications\/[A-Za-z0-9-]+/.exec(
  published,
)?.[0];
if (arn !== undefined) {
  console.log(
    `\nQuick-create link (share the application with the deploying accounts first, ` +
      `docs/deploy.md):\n` +
      `https://console.aws.amazon.com/lambda/home?region=${region}#/create/app?applicationId=${arn}`,
  );
}
