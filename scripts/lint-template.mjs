// Runs cfn-lint, AWS's CloudFormation linter, on template.yaml as .cfnlintrc configures it: every
// rule, AWS's SAM translator included (it refuses a property SAM does not know). Any finding not
// accepted in .cfnlintrc fails. cfn-lint is a Python tool that a user's machine may lack: then this
// says so and skips, unless REQUIRE_CFN_LINT is set (.ci/run sets it), when it fails.
//   npm run lint:template
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const version = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
if (version.error !== undefined || version.status !== 0) {
  const why = 'cfn-lint is not installed (pip install cfn-lint)';
  if (process.env.REQUIRE_CFN_LINT) {
    console.error(`lint:template: ${why}, and REQUIRE_CFN_LINT is set`);
    process.exit(1);
  }
  console.warn(`lint:template: SKIPPED: ${why}; template.yaml was not checked by AWS's linter`);
  process.exit(0);
}

const run = spawnSync(
  'cfn-lint',
  ['--config-file', '.cfnlintrc', '--non-zero-exit-code', 'informational'],
  { cwd: root, stdio: 'inherit' },
);
if (run.status !== 0) {
  console.error(
    `lint:template: ${version.stdout.trim()} found the problems above in template.yaml`,
  );
  process.exit(run.status ?? 1);
}
console.log(`lint:template: ${version.stdout.trim()} finds nothing in template.yaml`);
