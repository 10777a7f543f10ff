import { readFileSync } from 'node:fs';
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRecord, loadTemplate, parameterViolation } from '../../local/template/sam-template.js';

// Checks any CloudFormation/SAM template must pass before `sam deploy` would even try: known
// resource types and properties, references that resolve, described and constrained parameters.
// The SAM resource types are checked in depth by cfn-lint, which runs AWS's SAM translator on them
// (`npm run lint:template`, part of `npm test`).

const template = loadTemplate();
const resources = template.Resources;
const parameters = template.Parameters ?? {};

const PSEUDO_PARAMETERS = [
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
];

// Attributes SAM resources expose to Fn::GetAtt (the service spec does not model them).
const SAM_ATTRIBUTES: Record<string, string[]> = {
  'AWS::Serverless::Function': ['Arn'],
  'AWS::Serverless::HttpApi': ['ApiEndpoint'],
  'AWS::Serverless::StateMachine': ['Arn', 'Name'],
  'AWS::Serverless::SimpleTable': ['Arn'],
};

/**
 * SAM's references to what it generates for a function with AutoPublishAlias: `!Ref
 * Function.Alias` (the alias) and `!Ref Function.Version` (the version it points at).
 */
function isSamGenerated(target: string): boolean {
  const [id = '', generated] = target.split('.');
  const resource = resources[id];
  return (
    (generated === 'Alias' || generated === 'Version') &&
    resource?.Type === 'AWS::Serverless::Function' &&
    typeof resource.Properties?.AutoPublishAlias === 'string'
  );
}

/** `guards`: the conditions of the Fn::If branches the reference is the true branch of. */
type Reference = {
  kind: 'Ref' | 'GetAtt';
  target: string;
  attribute?: string;
  at: string;
  guards?: string[];
};

function references(
  value: unknown,
  at: string,
  found: Reference[] = [],
  guards: string[] = [],
): Reference[] {
  if (Array.isArray(value))
    value.forEach((item, index) => references(item, `${at}[${index}]`, found, guards));
  if (!isRecord(value)) return found;
  for (const [key, item] of Object.entries(value)) {
    const here = `${at}.${key}`;
    if (key === 'Ref' && typeof item === 'string')
      found.push({ kind: 'Ref', target: item, at, guards });
    else if (key === 'Fn::If' && Array.isArray(item)) {
      const [condition, whenTrue, whenFalse] = item as [string, unknown, unknown];
      references(whenTrue, `${here}[1]`, found, [...guards, condition]);
      references(whenFalse, `${here}[2]`, found, guards);
    } else if (key === 'Fn::GetAtt' && Array.isArray(item)) {
      found.push({
        kind: 'GetAtt',
        target: String(item[0]),
        attribute: String(item[1]),
        at,
        guards,
      });
    } else if (key === 'Fn::Sub') {
      const [text, variables] = Array.isArray(item)
        ? (item as [string, Record<string, unknown>])
        : [String(item), {}];
      for (const [, name] of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
        if (name === undefined || name in variables) continue;
        const [target = '', attribute] = name.split(/\.(.*)/s);
        found.push(
          attribute
            ? { kind: 'GetAtt', target, attribute, at, guards }
            : { kind: 'Ref', target, at, guards },
        );
      }
      references(variables, here, found, guards);
    } else references(item, here, found, guards);
  }
  return found;
}

describe('Template: structure', () => {
  let spec: Awaited<ReturnType<typeof loadAwsServiceSpec>>;
  beforeAll(async () => {
    spec = await loadAwsServiceSpec();
  });

  function specOf(type: string) {
    return spec.lookup('resource', 'cloudFormationType', 'equals', type).only();
  }

  /** Plain CloudFormation resources (not SAM's), each with the properties its type knows. */
  function cloudFormationResources() {
    return Object.entries(resources)
      .filter(([, resource]) => !resource.Type.startsWith('AWS::Serverless::'))
      .map(([id, resource]) => ({ id, resource, known: specOf(resource.Type).properties }));
  }

  it('is a SAM template', () => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    expect(template.Transform).toBe('AWS::Serverless-2016-10-31');
  });

  it('describes and constrains every parameter, and every default meets its constraints', () => {
    const problems: string[] = [];
    for (const [name, parameter] of Object.entries(parameters)) {
      if (!parameter.Description || parameter.Description.length < 20)
        problems.push(`${name}: no real Description`);
      const constrained =
        parameter.AllowedValues ??
        parameter.AllowedPattern ??
        parameter.MinValue ??
        parameter.MaxValue ??
        parameter.MaxLength;
      if (constrained === undefined) problems.push(`${name}: no constraint`);
      if (parameter.Default !== undefined) {
        const violation = parameterViolation(parameter, String(parameter.Default));
        if (violation !== undefined) problems.push(`${name}: default ${violation}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("names no partition: every ARN takes the stack's, so it deploys to aws-cn and aws-us-gov too", () => {
    const literal = (value: unknown): string[] =>
      typeof value === 'string'
        ? [...value.matchAll(/arn:aws:[^"'\s]*/g)].map(([arn]) => arn)
        : Array.isArray(value)
          ? value.flatMap(literal)
          : isRecord(value)
            ? Object.values(value).flatMap(literal)
            : [];
    expect(literal(resources)).toEqual([]);
    expect(literal(template.Outputs)).toEqual([]);
  });

  it('says of every stateful resource what a stack deletion or a replacement keeps, and docs/deploy.md says what stays', () => {
    // The types cfn-lint's I3011 asks this of, among those the template uses.
    const STATEFUL = [
      'AWS::DynamoDB::Table',
      'AWS::KMS::Key',
      'AWS::Logs::LogGroup',
      'AWS::SecretsManager::Secret',
      'AWS::SQS::Queue',
    ];
    const stateful = Object.entries(resources).filter(([, resource]) =>
      STATEFUL.includes(resource.Type),
    );
    expect(stateful.length).toBeGreaterThan(0);
    for (const [id, resource] of stateful) {
      expect(resource.DeletionPolicy, id).toBeDefined();
      expect(resource.UpdateReplacePolicy, id).toBeDefined();
    }
    const cleanUp = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8').split(
      '## Clean up',
    )[1];
    for (const [id] of stateful.filter(([, resource]) => resource.DeletionPolicy === 'Retain')) {
      expect(cleanUp?.split('\n## ')[0], id).toContain(id);
    }
  });

  it('names the log groups AWS services deliver to under /aws/vendedlogs/, sparing the account-wide resource policy', () => {
    const deliveredTo = ['DownlinkStateMachineLogGroup', 'PushApiAccessLogGroup'];
    for (const id of deliveredTo) {
      expect(resources[id]?.Properties?.LogGroupName, id).toEqual({
        'Fn::Sub': expect.stringMatching(
          /^\/aws\/vendedlogs\/[a-z]+\/\$\{AWS::StackName\}-[a-z-]+$/,
        ),
      });
    }
  });

  // CloudFormation takes 30.5 for a Number parameter, and Lambda, Step Functions and the functions'
  // settings then refuse it at run time: a whole number is a String with a pattern, refused at deploy.
  it('refuses a decimal for every whole-number parameter before anything is deployed', () => {
    const DECIMALS_TAKEN: Record<string, string> = {
      ApiThrottlingRateLimit: 'API Gateway takes a rate limit as a double',
    };
    const acceptingDecimals = Object.entries(parameters)
      .filter(
        ([name, parameter]) => /^\d+$/.test(String(parameter.Default)) && !(name in DECIMALS_TAKEN),
      )
      .filter(
        ([, parameter]) =>
          parameterViolation(parameter, `${String(parameter.Default)}.5`) === undefined,
      )
      .map(([name]) => name);
    expect(acceptingDecimals).toEqual([]);
  });

  it('bounds every parameter on both sides: a range or a list for numbers, a pattern or a list for text', () => {
    const unbounded = Object.entries(parameters)
      .filter(([, parameter]) =>
        parameter.AllowedValues !== undefined
          ? false
          : parameter.Type === 'Number'
            ? parameter.MinValue === undefined || parameter.MaxValue === undefined
            : parameter.AllowedPattern === undefined,
      )
      .map(([name]) => name);
    expect(unbounded).toEqual([]);
  });

  it('uses only resource types CloudFormation or SAM knows', () => {
    const unknown = Object.entries(resources)
      .filter(
        ([, { Type }]) =>
          !(Type in SAM_ATTRIBUTES) &&
          spec.lookup('resource', 'cloudFormationType', 'equals', Type).length !== 1,
      )
      .map(([id, { Type }]) => `${id}: ${Type}`);
    expect(unknown).toEqual([]);
  });

  it('gives CloudFormation resources only known properties, and every required one', () => {
    const problems: string[] = [];
    for (const { id, resource, known } of cloudFormationResources()) {
      const given = resource.Properties ?? {};
      // A custom resource's properties other than ServiceToken are its provider's to define.
      const providerDefined = resource.Type === 'AWS::CloudFormation::CustomResource';
      for (const name of Object.keys(given))
        if (!(name in known) && !providerDefined) problems.push(`${id}: unknown property ${name}`);
      for (const [name, property] of Object.entries(known)) {
        if (property.required === true && !(name in given))
          problems.push(`${id}: missing required ${name}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('only lets parameters feed a property values the property accepts', () => {
    const problems: string[] = [];
    for (const { id, resource, known } of cloudFormationResources()) {
      for (const [name, value] of Object.entries(resource.Properties ?? {})) {
        const type = known[name]?.type;
        const allowed =
          type && 'allowedValues' in type ? (type.allowedValues as unknown[]) : undefined;
        if (!allowed || !isRecord(value) || typeof value.Ref !== 'string') continue;
        const parameter = parameters[value.Ref];
        const offered = parameter?.AllowedValues;
        if (!offered)
          problems.push(
            `${id}.${name}: parameter ${value.Ref} must be limited to ${allowed.join(', ')}`,
          );
        else
          for (const option of offered)
            if (!allowed.includes(option))
              problems.push(`${id}.${name}: ${value.Ref} allows ${option}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('refers only to parameters, pseudo parameters, resources and attributes that exist', () => {
    const problems: string[] = [];
    const sections = {
      Resources: resources,
      Outputs: template.Outputs ?? {},
      Globals: template.Globals ?? {},
    };
    for (const reference of references(sections, 'template')) {
      const { kind, target, attribute, at } = reference;
      if (kind === 'Ref') {
        if (
          !(target in parameters) &&
          !(target in resources) &&
          !PSEUDO_PARAMETERS.includes(target) &&
          !isSamGenerated(target)
        ) {
          problems.push(`${at}: Ref ${target} does not exist`);
        }
        continue;
      }
      const resource = resources[target];
      if (resource === undefined) {
        problems.push(`${at}: GetAtt of missing resource ${target}`);
        continue;
      }
      const attributes =
        SAM_ATTRIBUTES[resource.Type] ?? Object.keys(specOf(resource.Type).attributes);
      if (attribute === undefined || !attributes.includes(attribute)) {
        problems.push(
          `${at}: ${resource.Type} has no attribute ${String(attribute)} (has ${attributes.join(', ')})`,
        );
      }
    }
    expect(problems).toEqual([]);
  });

  it('uses every parameter', () => {
    const used = new Set(
      references(template, 'template')
        .filter((ref) => ref.kind === 'Ref')
        .map((ref) => ref.target),
    );
    expect(Object.keys(parameters).filter((name) => !used.has(name))).toEqual([]);
  });

  it('defines every condition a resource or output names, and uses every condition', () => {
    const conditions = Object.keys(template.Conditions ?? {});
    const named = [
      ...Object.entries(resources).map(([id, { Condition }]) => ({ at: id, Condition })),
      ...Object.entries(template.Outputs ?? {}).map(([id, { Condition }]) => ({
        at: id,
        Condition,
      })),
    ].filter((entry): entry is { at: string; Condition: string } => entry.Condition !== undefined);
    expect(named.filter(({ Condition }) => !conditions.includes(Condition))).toEqual([]);
    // Fn::If names its condition first; a condition can build on another with {Condition: name}.
    const text = JSON.stringify(template);
    const used = (name: string) =>
      named.some(({ Condition }) => Condition === name) ||
      text.includes(`"Fn::If":["${name}",`) ||
      text.includes(`{"Condition":"${name}"}`);
    expect(conditions.filter((name) => !used(name))).toEqual([]);
    // A condition can only read parameters (and other conditions): resources do not exist yet.
    for (const reference of references(template.Conditions ?? {}, 'Conditions'))
      expect(parameters, reference.at).toHaveProperty(reference.target);
  });

  it('refers to a conditional resource only from under the same condition', () => {
    // Otherwise the stack fails to deploy whenever the condition is false.
    const problems: string[] = [];
    const owners = [
      ...Object.entries(resources).map(([id, resource]) => ({ at: id, owner: resource })),
      ...Object.entries(template.Outputs ?? {}).map(([id, output]) => ({
        at: `Outputs.${id}`,
        owner: output,
      })),
    ];
    // `a` implies `b` when they are one, or `b` is an Fn::Or of `a` and others.
    const implies = (a: string | undefined, b: string) => {
      const definition = template.Conditions?.[b];
      return (
        a === b ||
        (isRecord(definition) &&
          Array.isArray(definition['Fn::Or']) &&
          definition['Fn::Or'].some((item) => isRecord(item) && item.Condition === a))
      );
    };
    for (const { at, owner } of owners) {
      for (const { target, guards = [] } of references(owner, at)) {
        const condition = resources[target]?.Condition;
        if (
          condition !== undefined &&
          !implies(owner.Condition, condition) &&
          !guards.some((guard) => implies(guard, condition))
        )
          problems.push(`${at} refers to ${target}, which exists only if ${condition}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('describes every output', () => {
    const undescribed = Object.entries(template.Outputs ?? {}).filter(
      ([, output]) => !output.Description,
    );
    expect(undescribed.map(([name]) => name)).toEqual([]);
  });

  it("knows SAM's alias references only for functions that publish one", () => {
    const [withAlias] = Object.entries(resources).filter(
      ([, resource]) => resource.Properties?.AutoPublishAlias !== undefined,
    );
    const [withoutAlias] = Object.entries(resources).filter(
      ([, resource]) =>
        resource.Type === 'AWS::Serverless::Function' &&
        resource.Properties?.AutoPublishAlias === undefined,
    );
    expect(isSamGenerated(`${withAlias?.[0] ?? ''}.Alias`)).toBe(true);
    expect(isSamGenerated(`${withoutAlias?.[0] ?? ''}.Alias`)).toBe(false);
    expect(isSamGenerated(`${withAlias?.[0] ?? ''}.Other`)).toBe(false);
  });

  it('notices a broken reference (the check itself works)', () => {
    const broken = references(
      { a: { Ref: 'Nope' }, b: { 'Fn::Sub': '${Missing.Arn} ${!Literal} ${X}' } },
      't',
    );
    expect(broken.map((ref) => `${ref.kind}:${ref.target}`)).toEqual([
      'Ref:Nope',
      'GetAtt:Missing',
      'Ref:X',
    ]);
  });
});
