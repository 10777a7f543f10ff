import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCfnYaml } from './cfn-yaml.js';

// A read-only model of template.yaml for code that must follow it exactly: the local stack and
// the template checks. It knows the few SAM rules they rely on (Globals merging, HttpApi events).

export const TEMPLATE_PATH = fileURLToPath(new URL('../../template.yaml', import.meta.url));

export interface CfnParameter {
  /** String, Number, CommaDelimitedList or an AWS-specific type. */
  Type: string;
  Description?: string;
  Default?: string | number;
  AllowedValues?: (string | number)[];
  AllowedPattern?: string;
  ConstraintDescription?: string;
  MinLength?: number;
  MaxLength?: number;
  MinValue?: number;
  MaxValue?: number;
  NoEcho?: boolean;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  Condition?: string;
  DependsOn?: string | string[];
  DeletionPolicy?: 'Delete' | 'Retain' | 'RetainExceptOnCreate' | 'Snapshot';
  UpdateReplacePolicy?: 'Delete' | 'Retain' | 'Snapshot';
}

export interface CfnTemplate {
  AWSTemplateFormatVersion?: string;
  Transform?: string | string[];
  Description?: string;
  Metadata?: Record<string, unknown>;
  Parameters?: Record<string, CfnParameter>;
  Conditions?: Record<string, unknown>;
  Globals?: Record<string, Record<string, unknown>>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Description?: string; Value: unknown; Condition?: string }>;
}

// CodeUri and definition files are relative to the template, as `sam build` reads them.
const TEMPLATE_DIRECTORY = dirname(TEMPLATE_PATH);

/** A file the template names by a path relative to itself (CodeUri, Metadata.DefinitionFile). */
export function readBesideTemplate(relativePath: string): string {
  return readFileSync(join(TEMPLATE_DIRECTORY, relativePath), 'utf8');
}

/** The file a state machine's inline Definition is copied from (scripts/inline-definitions.ts). */
export function definitionFileOf(template: CfnTemplate, stateMachineId: string): string {
  const file = template.Resources[stateMachineId]?.Metadata?.DefinitionFile;
  if (typeof file !== 'string') {
    throw new Error(`${stateMachineId} names no Metadata.DefinitionFile in template.yaml`);
  }
  return file;
}

export function loadTemplate(path: string = TEMPLATE_PATH): CfnTemplate {
  const template = readCfnYaml(path);
  if (!isRecord(template) || !isRecord(template.Resources)) {
    throw new Error(`${path} is not a CloudFormation template: it has no Resources`);
  }
  return template as unknown as CfnTemplate;
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/**
 * A function's properties as SAM deploys them: Globals.Function merged in, maps merged key by key
 * (the resource wins), lists concatenated, scalars overridden.
 */
export function functionProperties(
  template: CfnTemplate,
  functionId: string,
): Record<string, unknown> {
  const resource = template.Resources[functionId];
  if (resource?.Type !== 'AWS::Serverless::Function') {
    throw new Error(`${functionId} is not an AWS::Serverless::Function in the template`);
  }
  return mergeGlobals(template.Globals?.Function ?? {}, resource.Properties ?? {});
}

/** Where Lambda finds a function's handler: Handler "dir/module.export" inside CodeUri. */
export interface HandlerLocation {
  /** CodeUri, absolute. */
  codeDirectory: string;
  /** The handler's module relative to codeDirectory, without extension (uplink/handler). */
  module: string;
  /** The export Lambda calls. */
  exportName: string;
}

export function handlerLocation(template: CfnTemplate, functionId: string): HandlerLocation {
  const { CodeUri, Handler } = functionProperties(template, functionId);
  if (typeof Handler !== 'string') throw new Error(`${functionId}: Handler is not a string`);
  const dot = Handler.lastIndexOf('.');
  return {
    codeDirectory: join(TEMPLATE_DIRECTORY, typeof CodeUri === 'string' ? CodeUri : '.'),
    module: Handler.slice(0, dot),
    exportName: Handler.slice(dot + 1),
  };
}

function mergeGlobals(globals: unknown, local: unknown): Record<string, unknown> {
  return mergeValue(globals, local) as Record<string, unknown>;
}

function mergeValue(globals: unknown, local: unknown): unknown {
  if (local === undefined) return globals;
  if (isPlainMap(globals) && isPlainMap(local)) {
    const merged: Record<string, unknown> = { ...globals };
    for (const [key, value] of Object.entries(local)) merged[key] = mergeValue(globals[key], value);
    return merged;
  }
  if (Array.isArray(globals) && Array.isArray(local))
    return [...(globals as unknown[]), ...(local as unknown[])];
  return local;
}

// Intrinsic functions are maps with a single Ref/Fn:: key; SAM does not merge into those.
function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false;
  const keys = Object.keys(value);
  return !(keys.length === 1 && (keys[0] === 'Ref' || keys[0]?.startsWith('Fn::') === true));
}

export interface HttpApiRoute {
  functionId: string;
  eventId: string;
  apiId: string | undefined;
  method: string;
  path: string;
}

/** Every HttpApi event of every function: what API Gateway routes to which function. */
export function httpApiRoutes(template: CfnTemplate): HttpApiRoute[] {
  const routes: HttpApiRoute[] = [];
  for (const [functionId] of resourcesOfType(template, 'AWS::Serverless::Function')) {
    const events = functionProperties(template, functionId).Events;
    if (!isRecord(events)) continue;
    for (const [eventId, event] of Object.entries(events)) {
      if (!isRecord(event) || event.Type !== 'HttpApi' || !isRecord(event.Properties)) continue;
      const { ApiId, Method, Path } = event.Properties;
      routes.push({
        functionId,
        eventId,
        apiId: isRecord(ApiId) && typeof ApiId.Ref === 'string' ? ApiId.Ref : undefined,
        method: String(Method).toUpperCase(),
        path: String(Path),
      });
    }
  }
  return routes;
}

/** Why a value breaks the parameter's constraints, or undefined when it satisfies them. */
export function parameterViolation(parameter: CfnParameter, value: string): string | undefined {
  if (parameter.AllowedValues && !parameter.AllowedValues.map(String).includes(value)) {
    return `must be one of ${parameter.AllowedValues.join(', ')}`;
  }
  if (parameter.Type === 'Number') {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number)) return 'must be a number';
    if (parameter.MinValue !== undefined && number < parameter.MinValue)
      return `must be at least ${parameter.MinValue}`;
    if (parameter.MaxValue !== undefined && number > parameter.MaxValue)
      return `must be at most ${parameter.MaxValue}`;
  }
  if (parameter.Type === 'String') {
    if (
      parameter.AllowedPattern !== undefined &&
      !new RegExp(`^(?:${parameter.AllowedPattern})$`).test(value)
    ) {
      return parameter.ConstraintDescription ?? `must match ${parameter.AllowedPattern}`;
    }
    if (parameter.MinLength !== undefined && value.length < parameter.MinLength)
      return `must be at least ${parameter.MinLength} characters`;
    if (parameter.MaxLength !== undefined && value.length > parameter.MaxLength)
      return `must be at most ${parameter.MaxLength} characters`;
  }
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
