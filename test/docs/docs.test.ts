import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
} from '../../functions/notifications/notification-types.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { renderReport } from '../../bench/report.js';
import { PERFORMANCE_DOC, docWithReport, type BenchResult } from '../../bench/run.js';

// README.md is the front page; docs/ holds the rest, one page per audience. They are how users
// try, deploy, run and change the connector: they must not fall behind the code, nor each other.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC_FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .sort()
    .map((file) => `docs/${file}`),
];
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const readme = read('README.md');
const template = loadTemplate();
const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };

/** A table row whose cells start with these (prettier pads the cells). */
function tableRow(...cells: string[]): RegExp {
  const escaped = cells.map((cell) => cell.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^\\|\\s*${escaped.join('\\s*\\|\\s*')}\\s*\\|`, 'm');
}

/** The Markdown without its fenced code blocks, where nothing is a link or a heading. */
function prose(markdown: string): string {
  return markdown.replace(/^(`{3,})[^\n]*\n[\s\S]*?^\1\s*$/gm, '');
}

/** The heading anchors GitHub makes for a page: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of prose(markdown).matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const text = (match[1] ?? '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
      .replaceAll(' ', '-');
    const count = seen.get(text) ?? 0;
    seen.set(text, count + 1);
    result.add(count === 0 ? text : `${text}-${String(count)}`);
  }
  return result;
}

/** Link targets that are not URLs: a file path, a `#anchor`, or both. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)]
    .map((match) => match[1] ?? '')
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** The script names a text runs: `npm run X`, `npm test`, `npm start`. */
function scriptsNamed(text: string): string[] {
  return [
    ...[...text.matchAll(/npm run ([\w-]+(?::[\w-]+)*)/g)].map((match) => match[1] ?? ''),
    ...(/\bnpm test\b/.test(text) ? ['test'] : []),
    ...(/\bnpm start\b/.test(text) ? ['start'] : []),
  ];
}

describe('README.md and docs/', () => {
  it('has the pages the README maps', () => {
    expect(DOC_FILES.length).toBeGreaterThan(5);
  });

  it.each(DOC_FILES)('%s: every relative link reaches a file, and a #link a heading', (file) => {
    const text = read(file);
    for (const target of relativeLinks(text)) {
      const [path = '', anchor] = target.split('#', 2);
      const resolved = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), path);
      expect(relative(ROOT, resolved).startsWith('..'), `${file}: ${target}`).toBe(false);
      expect(existsSync(resolved), `${file}: ${target}`).toBe(true);
      if (anchor !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile()) {
        expect([...anchors(readFileSync(resolved, 'utf8'))], `${file}: ${target}`).toContain(
          decodeURIComponent(anchor),
        );
      }
    }
  });

  it.each(DOC_FILES)('%s names only npm scripts that exist', (file) => {
    for (const script of scriptsNamed(read(file)))
      expect(scripts, `${file}: ${script}`).toHaveProperty([script]);
  });

  it('maps every page of docs/ from the README', () => {
    const linked = new Set(relativeLinks(readme).map((target) => target.split('#')[0]));
    for (const file of DOC_FILES.filter((file) => file !== 'README.md'))
      expect(linked, file).toContain(file);
  });

  it('keeps the Serverless Application Repository readme self-sufficient: no relative links', () => {
    const readmeUrl = String(
      (template.Metadata?.['AWS::ServerlessRepo::Application'] as Record<string, unknown>)
        .ReadmeUrl,
    );
    expect(readmeUrl).toBe('docs/serverless-repo.md');
    expect(relativeLinks(read(readmeUrl))).toEqual([]);
  });
});

describe('README.md, the front page', () => {
  it('gives the run command and the test command before its first section', () => {
    const start = readme.slice(0, readme.search(/^## /m));
    expect(start).toContain('npm install && npm start');
    expect(start).toContain('`npm test`');
  });

  it('stays short', () => {
    expect(readme.split('\n').length).toBeLessThan(220);
  });

  it('has an architecture diagram GitHub draws', () => {
    expect(readme).toMatch(/^```mermaid$/m);
  });
});

describe('docs/development.md', () => {
  const development = read('docs/development.md');

  it.each(Object.keys(scripts))('names the npm script %s', (script) => {
    const command =
      script === 'test' || script === 'start'
        ? new RegExp(`\\bnpm ${script}\\b`)
        : new RegExp(`npm run ${script.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w:-])`);
    expect(development).toMatch(command);
  });
});

describe('docs/local-stack.md', () => {
  const localStack = read('docs/local-stack.md');
  // The variables npm start reads, as local/settings.ts names them.
  const settingsSource = read('local/settings.ts');
  const LOCAL_VARIABLES = [
    ...new Set([...settingsSource.matchAll(/\(env, '([A-Z_]+)'/g)].map((match) => match[1] ?? '')),
  ];

  it('has npm start settings to document', () => {
    expect(LOCAL_VARIABLES.length).toBeGreaterThan(5);
  });

  it.each(LOCAL_VARIABLES)('documents the npm start setting %s', (variable) => {
    expect(localStack).toMatch(tableRow(`\`${variable}\``));
  });

  it.each(NOTIFICATION_TYPES)('documents the sample events of the %s function', (type) => {
    const { functionId } = NOTIFICATION_DEFINITIONS[type];
    const eventsDir = `events/${type.replaceAll('_', '-')}/`;
    expect(localStack).toMatch(tableRow(`\`${functionId}\``, `\`${eventsDir}\``));
    expect(existsSync(join(ROOT, eventsDir))).toBe(true);
  });
});

describe('docs/deploy.md', () => {
  const deploy = read('docs/deploy.md');
  const serverlessRepo = read('docs/serverless-repo.md');

  it.each(Object.keys(template.Parameters ?? {}))('documents the parameter %s', (name) => {
    expect(deploy).toMatch(tableRow(`\`${name}\``));
    expect(serverlessRepo, 'docs/serverless-repo.md').toContain(`\`${name}\``);
  });

  it.each(Object.keys(template.Outputs ?? {}))('documents the output %s', (name) => {
    expect(deploy).toMatch(tableRow(`\`${name}\``));
    expect(serverlessRepo, 'docs/serverless-repo.md').toMatch(tableRow(`\`${name}\``));
  });
});

describe('docs/integration.md', () => {
  const integration = read('docs/integration.md');

  it('keeps the notification topic table between its markers', () => {
    const table =
      /^<!-- notification-topics:start -->\n\n(\|.*\|\n)+\n<!-- notification-topics:end -->$/m;
    expect(integration).toMatch(table);
  });

  it.each(NOTIFICATION_TYPES)('documents the %s route and topic', (type) => {
    const { callbackPath, topicSuffix } = NOTIFICATION_DEFINITIONS[type];
    expect(integration).toContain(`\`${callbackPath}\``);
    expect(integration).toContain(`/${topicSuffix}\``);
  });
});

describe('docs/performance.md', () => {
  it('shows the latest bench results, as npm run bench wrote them', async () => {
    const latest = JSON.parse(read('bench/results/latest.json')) as BenchResult;
    expect(latest.mode).toBe('full');
    expect(relative(ROOT, PERFORMANCE_DOC)).toBe(join('docs', 'performance.md'));
    const performance = read('docs/performance.md');
    expect(performance).toBe(await docWithReport(performance, renderReport(latest)));
  });
});
