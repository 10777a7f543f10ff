import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
} from '../../functions/notifications/notification-types.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { renderReport } from '../../bench/report.js';
import { readmeWithReport, type BenchResult } from '../../bench/run.js';

// The README is how users deploy and configure the connector: it must not fall behind the template.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${ROOT}README.md`, 'utf8');
const template = loadTemplate();

/** A table row whose cells start with these (prettier pads the cells). */
function tableRow(...cells: string[]): RegExp {
  const escaped = cells.map((cell) => cell.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^\\|\\s*${escaped.join('\\s*\\|\\s*')}\\s*\\|`, 'm');
}

// The variables npm start reads, as local/settings.ts names them.
const settingsSource = readFileSync(`${ROOT}local/settings.ts`, 'utf8');
const LOCAL_VARIABLES = [
  ...new Set([...settingsSource.matchAll(/\(env, '([A-Z_]+)'/g)].map((match) => match[1] ?? '')),
];

describe('README', () => {
  it('gives the run command and the test command first', () => {
    const start = readme.slice(0, readme.indexOf('## How it works'));
    expect(start).toContain('npm install && npm start');
    expect(start).toContain('`npm test`');
  });

  it('has the sections a team needs to adopt and run it, and an architecture diagram GitHub draws', () => {
    const headings = [...readme.matchAll(/^#{2,3} (.+)$/gm)].map((match) => match[1]);
    expect(headings).toEqual(
      expect.arrayContaining([
        'How it works',
        'Run it locally',
        'Send a downlink',
        'In the Step Functions console',
        'Deploy',
        'Start OrbiWAN push mode',
        'Publish to the Serverless Application Repository',
        'Observe',
        'Upgrade',
        'Clean up',
        'Troubleshoot',
      ]),
    );
    expect(readme).toMatch(/^```mermaid$/m);
  });

  it('links only to files of the repository that exist', () => {
    const targets = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((match) => match[1] ?? '')
      .filter((target) => !/^[a-z]+:/.test(target));
    expect(targets.length).toBeGreaterThan(10);
    for (const target of targets) expect(existsSync(`${ROOT}${target}`), target).toBe(true);
  });

  it('names only npm scripts that exist', () => {
    const { scripts } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
      scripts: Record<string, string>;
    };
    const named = [...readme.matchAll(/npm run ([\w-]+(?::[\w-]+)*)/g)].map(
      (match) => match[1] ?? '',
    );
    expect(named.length).toBeGreaterThan(3);
    for (const script of named) expect(scripts, script).toHaveProperty([script]);
  });

  it.each(LOCAL_VARIABLES)('documents the npm start setting %s', (variable) => {
    expect(readme).toMatch(tableRow(`\`${variable}\``));
  });

  it.each(Object.keys(template.Parameters ?? {}))('documents the parameter %s', (name) => {
    expect(readme).toMatch(tableRow(`\`${name}\``));
  });

  it.each(Object.keys(template.Outputs ?? {}))('documents the output %s', (name) => {
    expect(readme).toMatch(tableRow(`\`${name}\``));
  });

  it.each(NOTIFICATION_TYPES)('documents the %s route, topic and sample events', (type) => {
    const { callbackPath, functionId, topicSuffix } = NOTIFICATION_DEFINITIONS[type];
    const eventsDir = `events/${type.replaceAll('_', '-')}/`;
    expect(readme).toContain(`\`${callbackPath}\``);
    expect(readme).toContain(`/${topicSuffix}\``);
    expect(readme).toMatch(tableRow(`\`${functionId}\``, `\`${eventsDir}\``));
    expect(existsSync(`${ROOT}${eventsDir}`)).toBe(true);
  });

  it('shows the latest bench results, as npm run bench wrote them', async () => {
    const latest = JSON.parse(
      readFileSync(`${ROOT}bench/results/latest.json`, 'utf8'),
    ) as BenchResult;
    expect(latest.mode).toBe('full');
    expect(readme).toBe(await readmeWithReport(readme, renderReport(latest)));
  });
});
