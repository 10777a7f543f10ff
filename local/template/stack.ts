import { conditionValue, type IntrinsicContext } from './intrinsics.js';
import { parameterViolation, type CfnTemplate } from './sam-template.js';

// What CloudFormation would know about the deployed stack: parameter values (defaults plus
// overrides, checked against their constraints) and a physical ID and ARN for every resource,
// made up deterministically from logical IDs so that the template's wiring can run locally.

export interface StackOptions {
  /** Parameter values by parameter name; they win over the template's defaults. */
  parameters?: Record<string, string>;
  stackName?: string;
  region?: string;
  accountId?: string;
}

export interface LocalStack extends Required<IntrinsicContext> {
  parameters: Record<string, string>;
  region: string;
  accountId: string;
}

export function describeStack(template: CfnTemplate, options: StackOptions = {}): LocalStack {
  const {
    stackName = 'orbiwan-connector',
    region = 'eu-west-1',
    accountId = '123456789012',
  } = options;
  const parameters = parameterValues(template, options.parameters ?? {});
  const refs: Record<string, string> = {
    'AWS::Region': region,
    'AWS::AccountId': accountId,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stackName,
    'AWS::StackId': `arn:aws:cloudformation:${region}:${accountId}:stack/${stackName}/00000000-0000-0000-0000-000000000000`,
    'AWS::NoValue': '',
    ...parameters,
  };
  const attributes: Record<string, string> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    const physical = physicalResource(resource.Type, id, { stackName, region, accountId });
    refs[id] = physical.ref;
    // SAM's `!Ref Function.Alias`: the ARN of the alias AutoPublishAlias makes, qualified by its name.
    const alias = resource.Properties?.AutoPublishAlias;
    if (resource.Type === 'AWS::Serverless::Function' && typeof alias === 'string')
      refs[`${id}.Alias`] = `${physical.attributes.Arn ?? ''}:${alias}`;
    for (const [name, value] of Object.entries(physical.attributes))
      attributes[`${id}.${name}`] = value;
  }
  const conditions = evaluateConditions(template, { refs, attributes });
  return { parameters, refs, attributes, conditions, region, accountId };
}

/**
 * The template as CloudFormation would deploy it with the stack's parameters: without the
 * resources and outputs whose Condition is false, so that the local stack runs only what exists.
 */
export function deployedTemplate(template: CfnTemplate, stack: LocalStack): CfnTemplate {
  const holds = (condition: string | undefined) =>
    condition === undefined || stack.conditions[condition] === true;
  const outputs = template.Outputs;
  return {
    ...template,
    Resources: Object.fromEntries(
      Object.entries(template.Resources).filter(([, resource]) => holds(resource.Condition)),
    ),
    ...(outputs === undefined
      ? {}
      : {
          Outputs: Object.fromEntries(
            Object.entries(outputs).filter(([, output]) => holds(output.Condition)),
          ),
        }),
  };
}

function evaluateConditions(
  template: CfnTemplate,
  context: IntrinsicContext,
): Record<string, boolean> {
  const definitions = template.Conditions ?? {};
  const values: Record<string, boolean> = {};
  const evaluating = new Set<string>();
  const valueOf = (name: string): boolean => {
    const known = values[name];
    if (known !== undefined) return known;
    if (!(name in definitions)) throw new Error(`condition ${name} is not defined`);
    if (evaluating.has(name)) throw new Error(`condition ${name} depends on itself`);
    evaluating.add(name);
    const value = conditionValue(definitions[name], context, valueOf);
    values[name] = value;
    return value;
  };
  for (const name of Object.keys(definitions)) valueOf(name);
  return values;
}

function parameterValues(
  template: CfnTemplate,
  overrides: Record<string, string>,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
    const value =
      overrides[name] ?? (parameter.Default === undefined ? undefined : String(parameter.Default));
    if (value === undefined) throw new Error(`parameter ${name} has no default: give it a value`);
    const violation = parameterViolation(parameter, value);
    if (violation !== undefined) throw new Error(`parameter ${name} "${value}" ${violation}`);
    values[name] = value;
  }
  return values;
}

interface Physical {
  ref: string;
  attributes: Record<string, string>;
}

function physicalResource(
  type: string,
  id: string,
  { stackName, region, accountId }: { stackName: string; region: string; accountId: string },
): Physical {
  const name = `${stackName}-${id}`;
  switch (type) {
    case 'AWS::Serverless::Function':
    case 'AWS::Lambda::Function': {
      const arn = `arn:aws:lambda:${region}:${accountId}:function:${name}`;
      return { ref: name, attributes: { Arn: arn } };
    }
    case 'AWS::SecretsManager::Secret': {
      const arn = `arn:aws:secretsmanager:${region}:${accountId}:secret:${id}-AbCdEf`;
      return { ref: arn, attributes: { Id: arn } };
    }
    case 'AWS::IAM::ManagedPolicy': {
      const arn = `arn:aws:iam::${accountId}:policy/${name}`;
      return { ref: arn, attributes: { PolicyArn: arn } };
    }
    case 'AWS::IAM::Role':
      return {
        ref: name,
        attributes: {
          Arn: `arn:aws:iam::${accountId}:role/${name}`,
          RoleId: `AROA${id.toUpperCase()}`,
        },
      };
    case 'AWS::Logs::LogGroup':
      return {
        ref: `/aws/vendedlogs/${name}`,
        attributes: {
          Arn: `arn:aws:logs:${region}:${accountId}:log-group:/aws/vendedlogs/${name}:*`,
        },
      };
    // Listed under their logical ID, so the local console and the AWS CLI show DownlinkStateMachine.
    case 'AWS::Serverless::StateMachine':
    case 'AWS::StepFunctions::StateMachine': {
      const arn = `arn:aws:states:${region}:${accountId}:stateMachine:${id}`;
      return { ref: arn, attributes: { Arn: arn, Name: id } };
    }
    case 'AWS::DynamoDB::Table':
      return {
        ref: name,
        attributes: { Arn: `arn:aws:dynamodb:${region}:${accountId}:table/${name}` },
      };
    case 'AWS::SQS::Queue':
      return {
        ref: `https://sqs.${region}.amazonaws.com/${accountId}/${name}`,
        attributes: { Arn: `arn:aws:sqs:${region}:${accountId}:${name}`, QueueName: name },
      };
    case 'AWS::Serverless::HttpApi': {
      const apiId = id
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '')
        .slice(0, 10);
      return {
        ref: apiId,
        attributes: { ApiEndpoint: `https://${apiId}.execute-api.${region}.amazonaws.com` },
      };
    }
    default: {
      const service = type.split('::')[1]?.toLowerCase() ?? 'unknown';
      return {
        ref: name,
        attributes: { Arn: `arn:aws:${service}:${region}:${accountId}:${name}` },
      };
    }
  }
}
