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
