import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { TEMPLATE_PATH, loadTemplate } from '../../local/template/sam-template.js';

// What `sam publish` sends to the AWS Serverless Application Repository, held to what SAR accepts
// (serverless-sam-template-publishing-applications-metadata-properties), and the publishing
// script's checks, which run before it would ever call SAM.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/publish-sar.mjs');
const template = loadTemplate();
const metadata = template.Metadata ?? {};
const application = metadata['AWS::ServerlessRepo::Application'] as Record<string, unknown>;
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
};
const workDir = mkdtempSync(join(tmpdir(), 'publish-sar-'));
const run = promisify(execFile);

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** Runs the script as `npm run publish:sar` would, with only the given environment. */
async function publish(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', SCRIPT, ...args],
      // No sam on this PATH: a check that passes when it should not cannot reach SAM.
      { cwd: ROOT, env: { PATH: workDir, ...env } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** A copy of template.yaml with changes: only the script's checks read it (no sam on PATH). */
function templateWith(name: string, change: (text: string) => string): string {
  const path = join(workDir, `${name}.yaml`);
  writeFileSync(path, change(readFileSync(TEMPLATE_PATH, 'utf8')));
  return path;
}

const withRepository = (text: string) =>
  text.replaceAll('https://github.com/YOUR-ORG/', 'https://github.com/acme/');

describe('Template: AWS::ServerlessRepo::Application', () => {
  it('comes first in Metadata, and Metadata before every other section', () => {
    expect(Object.keys(metadata)[0]).toBe('AWS::ServerlessRepo::Application');
    const sections = Object.keys(template).filter((key) =>
      ['Metadata', 'Parameters', 'Conditions', 'Globals', 'Resources', 'Outputs'].includes(key),
    );
    expect(sections).toEqual([
      'Metadata',
      'Parameters',
      'Conditions',
      'Globals',
      'Resources',
      'Outputs',
    ]);
  });

  it("publishes package.json's version", () => {
    expect(application.SemanticVersion).toBe(packageJson.version);
    expect(packageJson.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('holds literal values only: SAR does not evaluate intrinsic functions', () => {
    const notLiteral = Object.entries(application).filter(
      ([, value]) =>
        !(
          typeof value === 'string' ||
          (Array.isArray(value) && value.every((item) => typeof item === 'string'))
        ),
    );
    expect(notLiteral).toEqual([]);
    expect(JSON.stringify(application)).not.toMatch(/"(Ref|Fn::[A-Za-z]+|Condition)"|\$\{/);
  });

  it("meets SAR's rules for the required name, description and author", () => {
    expect(application.Name).toMatch(/^[a-zA-Z0-9-]{1,140}$/);
    expect(String(application.Description).length).toBeGreaterThan(0);
    expect(String(application.Description).length).toBeLessThanOrEqual(256);
    expect(application.Author).toMatch(/^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$/);
    expect(String(application.Author).length).toBeLessThanOrEqual(127);
  });

  it("meets SAR's rules for labels and links", () => {
    const labels = application.Labels as string[];
    expect(labels.length).toBeLessThanOrEqual(10);
    for (const label of labels) expect(label).toMatch(/^[a-zA-Z0-9+\-_:/@]{1,127}$/);
    expect(String(application.HomePageUrl)).toMatch(/^https:\/\/\S+$/);
    expect(String(application.SourceCodeUrl)).toMatch(/^https:\/\/\S+$/);
  });

  it('names the license of package.json, and files that exist: the license and the README', () => {
    expect(application.SpdxLicenseId).toBe(packageJson.license);
    expect(application.SpdxLicenseId).toBe('Apache-2.0');
    for (const key of ['LicenseUrl', 'ReadmeUrl']) {
      const file = join(ROOT, String(application[key]));
      expect(existsSync(file), `${key} ${String(application[key])}`).toBe(true);
    }
    const license = readFileSync(join(ROOT, String(application.LicenseUrl)), 'utf8');
    expect(license).toMatch(/Apache License\s+Version 2\.0/);
    expect(String(application.ReadmeUrl)).toMatch(/\.md$/);
  });

  // SAR asks whoever deploys an application to acknowledge what it creates: IAM roles and policies
  // (CAPABILITY_IAM), and resource policies (CAPABILITY_RESOURCE_POLICY), including those SAM
  // generates (a function's HttpApi event becomes an AWS::Lambda::Permission).
  it('names in docs/deploy.md and docs/serverless-repo.md the capabilities a deploy from the repository needs', () => {
    const types = new Set(Object.values(template.Resources).map((resource) => resource.Type));
    const hasApiEvents = Object.values(template.Resources).some((resource) =>
      Object.values((resource.Properties?.Events ?? {}) as Record<string, { Type: string }>).some(
        (event) => event.Type === 'HttpApi',
      ),
    );
    if (hasApiEvents) types.add('AWS::Lambda::Permission');
    const IAM = [
      'AWS::IAM::Role',
      'AWS::IAM::ManagedPolicy',
      'AWS::IAM::Policy',
      'AWS::Serverless::Function',
    ];
    const RESOURCE_POLICIES = [
      'AWS::Lambda::Permission',
      'AWS::SQS::QueuePolicy',
      'AWS::SNS::TopicPolicy',
      'AWS::S3::BucketPolicy',
      'AWS::Events::EventBusPolicy',
    ];
    const needed = [
      ...(IAM.some((type) => types.has(type)) ? ['CAPABILITY_IAM'] : []),
      ...(RESOURCE_POLICIES.some((type) => types.has(type)) ? ['CAPABILITY_RESOURCE_POLICY'] : []),
    ];
    expect(needed).toEqual(['CAPABILITY_IAM', 'CAPABILITY_RESOURCE_POLICY']);
    const deploy = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
    const section = deploy
      .split(/^#{2,3} Publish to the Serverless Application Repository$/m)[1]
      ?.split(/^#{1,2} /m)[0];
    for (const capability of needed) expect(section).toContain(capability);
    expect(section).toContain('**The live check.**');
    const serverlessRepoReadme = readFileSync(join(ROOT, 'docs/serverless-repo.md'), 'utf8');
    for (const capability of needed) expect(serverlessRepoReadme).toContain(capability);
  });
});

describe('scripts/publish-sar.mjs', () => {
  it('refuses to run without SAR_BUCKET, saying what it is for', async () => {
    const { code, stderr, stdout } = await publish({ AWS_REGION: 'eu-west-1' });

    expect(code).toBe(2);
    expect(stderr).toContain('publish-sar: SAR_BUCKET is not set');
    expect(stderr).toContain('serverlessrepo.amazonaws.com');
    expect(stdout).not.toContain('$ sam');
  });

  it('refuses to run without a region', async () => {
    const { code, stderr } = await publish({ SAR_BUCKET: 'my-sar-artifacts' });

    expect(code).toBe(2);
    expect(stderr).toContain('publish-sar: AWS_REGION (or AWS_DEFAULT_REGION) is not set');
  });

  it('refuses a region that is not one', async () => {
    const { code, stderr } = await publish({
      SAR_BUCKET: 'my-sar-artifacts',
      AWS_DEFAULT_REGION: 'Ireland',
    });

    expect(code).toBe(2);
    expect(stderr).toContain('AWS_REGION "Ireland" is not a region name');
  });

  it('refuses to publish the placeholder links', async () => {
    const { code, stderr } = await publish(
      { SAR_BUCKET: 'my-sar-artifacts', AWS_REGION: 'eu-west-1' },
      ['--template', templateWith('placeholders', (text) => text)],
    );

    expect(code).toBe(2);
    expect(stderr).toContain(
      'HomePageUrl and SourceCodeUrl in the template still point at YOUR-ORG',
    );
  });

  it("refuses a SemanticVersion that is not package.json's", async () => {
    const other = templateWith('other-version', (text) =>
      withRepository(text).replace(
        `SemanticVersion: ${packageJson.version}`,
        'SemanticVersion: 9.9.9',
      ),
    );

    const { code, stderr } = await publish(
      { SAR_BUCKET: 'my-sar-artifacts', AWS_REGION: 'eu-west-1' },
      ['--template', other],
    );

    expect(code).toBe(2);
    expect(stderr).toContain(
      `SemanticVersion 9.9.9 in the template is not package.json's version ${packageJson.version}`,
    );
  });

  it('says so when the SAM CLI is missing, once everything else is ready', async () => {
    const { code, stderr, stdout } = await publish(
      { SAR_BUCKET: 'my-sar-artifacts', AWS_REGION: 'eu-west-1' },
      ['--template', templateWith('ready', withRepository)],
    );

    expect(code).toBe(2);
    expect(stderr).toContain('the AWS SAM CLI (sam) is not installed or not on PATH');
    expect(stdout).not.toContain('$ sam');
  });
});
