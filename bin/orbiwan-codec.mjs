#!/usr/bin/env node
// The package bin: loads the TypeScript command through tsx (a dependency, so that it is there
// after `npm ci --omit=dev` too), so it runs from a checkout without a build step.
import { tsImport } from 'tsx/esm/api';

const { main } = await tsImport('../tools/codec-cli.ts', import.meta.url);
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
