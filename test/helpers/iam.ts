// A small IAM policy evaluator for the template checks: explicit Deny wins, then any Allow, else
// implicit deny. Enough for identity policies with Action and Resource (with * and ? wildcards);
// anything it does not model (NotAction, NotResource, Condition) is reported, never ignored.

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
}

export function toStatements(document: unknown): PolicyStatement[] {
  const statements = (document as { Statement?: unknown }).Statement;
  const list = Array.isArray(statements) ? statements : [statements];
  return list.map((statement) => {
    const { Effect, Action, Resource, ...rest } = statement as Record<string, unknown>;
    const unsupported = Object.keys(rest).filter((key) => key !== 'Sid');
    if (unsupported.length > 0)
      throw new Error(`statement uses ${unsupported.join(', ')}, which the checks do not model`);
    if (
      (Effect !== 'Allow' && Effect !== 'Deny') ||
      Action === undefined ||
      Resource === undefined
    ) {
      throw new Error(`statement needs Effect, Action and Resource: ${JSON.stringify(statement)}`);
    }
    return statement as PolicyStatement;
  });
}

export function isAllowed(
  statements: PolicyStatement[],
  action: string,
  resource: string,
): boolean {
  const applies = (statement: PolicyStatement) =>
    list(statement.Action).some((pattern) => wildcardMatch(pattern, action, true)) &&
    list(statement.Resource).some((pattern) => wildcardMatch(pattern, resource, false));
  const matching = statements.filter(applies);
  if (matching.some((statement) => statement.Effect === 'Deny')) return false;
  return matching.some((statement) => statement.Effect === 'Allow');
}

export function list(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}

function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}
