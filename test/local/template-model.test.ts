import { describe, expect, it } from 'vitest';
import { parseCfnYaml } from '../../local/template/cfn-yaml.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import {
  functionProperties,
  loadTemplate,
  parameterViolation,
  type CfnTemplate,
} from '../../local/template/sam-template.js';
import { deployedTemplate, describeStack } from '../../local/template/stack.js';
import { SAMPLE_PARAMETERS } from '../helpers/sample-stack.js';

describe('parseCfnYaml', () => {
  it('reads short-form intrinsic functions as their long form', () => {
    const parsed = parseCfnYaml(`
a: !Ref Param
b: !GetAtt Res.Arn
c: !Sub 'x-\${Param}'
d: !Sub ['\${A}', { A: !Ref Param }]
e: !Join [',', [a, !Ref Param]]
f: !If [Cond, 1, 2]
`);
    expect(parsed).toEqual({
      a: { Ref: 'Param' },
      b: { 'Fn::GetAtt': ['Res', 'Arn'] },
      c: { 'Fn::Sub': 'x-${Param}' },
      d: { 'Fn::Sub': ['${A}', { A: { Ref: 'Param' } }] },
      e: { 'Fn::Join': [',', ['a', { Ref: 'Param' }]] },
      f: { 'Fn::If': ['Cond', 1, 2] },
    });
  });
});

describe('resolveIntrinsics', () => {
  const context = {
    refs: { Param: 'p', 'AWS::Region': 'eu-west-1' },
    attributes: { 'Res.Arn': 'arn:res' },
    conditions: { On: true },
  };

  it('evaluates Ref, GetAtt, Sub, Join, Select and If', () => {
    const value = resolveIntrinsics(
      {
        ref: { Ref: 'Param' },
        att: { 'Fn::GetAtt': ['Res', 'Arn'] },
        sub: { 'Fn::Sub': '${Param}/${AWS::Region}/${Res.Arn}/${!Literal}' },
        subVars: { 'Fn::Sub': ['${X}', { X: { Ref: 'Param' } }] },
        join: { 'Fn::Join': ['-', ['a', { Ref: 'Param' }]] },
        select: { 'Fn::Select': [1, ['a', 'b']] },
        cond: { 'Fn::If': ['On', 'yes', 'no'] },
      },
      context,
    );
    expect(value).toEqual({
      ref: 'p',
      att: 'arn:res',
      sub: 'p/eu-west-1/arn:res/${Literal}',
      subVars: 'p',
      join: 'a-p',
      select: 'b',
      cond: 'yes',
    });
  });

  it('names what it cannot resolve', () => {
    expect(() => resolveIntrinsics({ Ref: 'Missing' }, context)).toThrow(
      'Ref Missing: no such parameter or resource',
    );
    expect(() => resolveIntrinsics({ 'Fn::GetAZs': '' }, context)).toThrow(
      'Fn::GetAZs is not supported',
    );
  });
  it('leaves out what AWS::NoValue stands for: a list item, a property, an If branch', () => {
    expect(
      resolveIntrinsics(
        {
          list: ['a', { Ref: 'AWS::NoValue' }, { 'Fn::If': ['On', { Ref: 'AWS::NoValue' }, 'b'] }],
          gone: { 'Fn::If': ['On', { Ref: 'AWS::NoValue' }, 'kept'] },
          kept: { 'Fn::If': ['On', 'kept', { Ref: 'AWS::NoValue' }] },
        },
        context,
      ),
    ).toEqual({ list: ['a'], kept: 'kept' });
    expect(resolveIntrinsics({ Ref: 'AWS::NoValue' }, context)).toBeUndefined();
  });
});

describe('functionProperties', () => {
  it('merges Globals the way SAM does', () => {
    const template: CfnTemplate = {
      Globals: {
        Function: {
          Runtime: 'nodejs22.x',
          Timeout: 10,
          Layers: ['a'],
          Environment: { Variables: { SHARED: '1', OVERRIDDEN: 'global' } },
        },
      },
      Resources: {
        Fn: {
          Type: 'AWS::Serverless::Function',
          Properties: {
            Timeout: 20,
            Layers: ['b'],
            Environment: { Variables: { OVERRIDDEN: 'local', OWN: { Ref: 'X' } } },
          },
        },
      },
    };
    expect(functionProperties(template, 'Fn')).toEqual({
      Runtime: 'nodejs22.x',
      Timeout: 20,
      Layers: ['a', 'b'],
      Environment: { Variables: { SHARED: '1', OVERRIDDEN: 'local', OWN: { Ref: 'X' } } },
    });
  });
});

describe('parameterViolation', () => {
  it('checks allowed values, patterns and ranges', () => {
    expect(parameterViolation({ Type: 'String', AllowedValues: ['a', 'b'] }, 'c')).toBe(
      'must be one of a, b',
    );
    expect(parameterViolation({ Type: 'String', AllowedPattern: '[a-z]+' }, 'abc')).toBeUndefined();
    expect(
      parameterViolation(
        { Type: 'String', AllowedPattern: '[a-z]+', ConstraintDescription: 'lower case' },
        'aB',
      ),
    ).toBe('lower case');
    expect(parameterViolation({ Type: 'Number', MinValue: 1, MaxValue: 5 }, '6')).toBe(
      'must be at most 5',
    );
    expect(parameterViolation({ Type: 'Number' }, 'five')).toBe('must be a number');
  });
});

describe('describeStack and deployedTemplate: conditions', () => {
  const template = parseCfnYaml(`
Parameters:
  Mode: { Type: String, Default: 'off', AllowedValues: ['on', 'off'] }
  Email: { Type: String, Default: '' }
Conditions:
  On: !Equals [!Ref Mode, 'on']
  HasEmail: !Not [!Equals [!Ref Email, '']]
  OnWithEmail: !And [!Condition On, !Condition HasEmail]
  OnOrEmail: !Or [!Condition On, !Condition HasEmail]
Resources:
  Always: { Type: AWS::SQS::Queue }
  Optional: { Type: AWS::SQS::Queue, Condition: On }
  Mailer: { Type: AWS::SNS::Topic, Condition: OnWithEmail }
Outputs:
  OptionalUrl: { Value: !Ref Optional, Condition: On }
  Mode: { Value: !If [On, 'running', 'idle'] }
`) as CfnTemplate;

  it('evaluates Equals, Not, And, Or and conditions built on conditions', () => {
    expect(describeStack(template).conditions).toEqual({
      On: false,
      HasEmail: false,
      OnWithEmail: false,
      OnOrEmail: false,
    });
    expect(
      describeStack(template, { parameters: { Mode: 'on', Email: 'a@b.c' } }).conditions,
    ).toEqual({ On: true, HasEmail: true, OnWithEmail: true, OnOrEmail: true });
  });

  it('leaves out the resources and outputs whose condition is false, as CloudFormation would', () => {
    const off = deployedTemplate(template, describeStack(template));
    const on = describeStack(template, { parameters: { Mode: 'on' } });

    expect(Object.keys(off.Resources)).toEqual(['Always']);
    expect(Object.keys(off.Outputs ?? {})).toEqual(['Mode']);
    expect(Object.keys(deployedTemplate(template, on).Resources)).toEqual(['Always', 'Optional']);
    expect(resolveIntrinsics(template.Outputs?.Mode?.Value, on)).toBe('running');
  });

  it('names a condition it cannot evaluate', () => {
    const broken = { ...template, Conditions: { Odd: { 'Fn::Contains': [['a'], 'a'] } } };
    expect(() => describeStack(broken)).toThrow('is not a condition the local evaluator knows');
    const missing = { ...template, Conditions: { Odd: { Condition: 'Nowhere' } } };
    expect(() => describeStack(missing)).toThrow('condition Nowhere is not defined');
  });
});

describe("describeStack: template.yaml's downlink parameters", () => {
  const template = loadTemplate();
  const deploy = (parameters: Record<string, string>) =>
    describeStack(template, { parameters: { ...SAMPLE_PARAMETERS, ...parameters } });

  it.each([
    [
      'DownlinkTimeoutSeconds',
      '59',
      'must be a whole number of seconds from 60 to 10368000 (120 days)',
    ],
    [
      'DownlinkTimeoutSeconds',
      '10368001',
      'must be a whole number of seconds from 60 to 10368000 (120 days)',
    ],
    [
      'DownlinkTimeoutSeconds',
      '30.5',
      'must be a whole number of seconds from 60 to 10368000 (120 days)',
    ],
    [
      'RequestIdWindowSeconds',
      '59',
      'must be a whole number of seconds from 60 to 2592000 (30 days)',
    ],
    [
      'RequestIdWindowSeconds',
      '2592001',
      'must be a whole number of seconds from 60 to 2592000 (30 days)',
    ],
  ])('refuses %s %s, as CloudFormation would: it %s', (name, value, violation) => {
    expect(() => deploy({ [name]: value })).toThrow(`parameter ${name} "${value}" ${violation}`);
  });

  it('puts DownlinkTimeoutSeconds into the downlink rule as its digits, the number the send task waits', () => {
    const stack = deploy({ DownlinkTimeoutSeconds: '3600', TopicPrefix: 'acme/lora' });
    const rule = template.Resources.DownlinkRule?.Properties?.TopicRulePayload as { Sql: unknown };

    expect(resolveIntrinsics(rule.Sql, stack)).toMatch(
      /, 3600 AS timeoutSeconds FROM 'acme\/lora\/\+\/downlink'$/,
    );
  });
});
