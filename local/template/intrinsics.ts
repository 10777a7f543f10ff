import { isRecord } from './sam-template.js';

// Evaluates the intrinsic functions the template uses, for code that runs the template's wiring
// on one machine. Anything it cannot evaluate is an error naming the function, never a guess.

export interface IntrinsicContext {
  /** Value of Ref for parameters, pseudo parameters (AWS::Region, ...) and resources. */
  refs: Record<string, string>;
  /** Value of Fn::GetAtt, keyed "Resource.Attribute". */
  attributes?: Record<string, string>;
  /** Evaluated template conditions. */
  conditions?: Record<string, boolean>;
}

// What `!Ref AWS::NoValue` leaves: no list item, no property (undefined where it is the whole value).
const NO_VALUE = Symbol('AWS::NoValue');

export function resolveIntrinsics(value: unknown, context: IntrinsicContext): unknown {
  const resolved = resolveValue(value, context);
  return resolved === NO_VALUE ? undefined : resolved;
}

function resolveValue(value: unknown, context: IntrinsicContext): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => resolveValue(item, context)).filter((item) => item !== NO_VALUE);
  }
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  const [key] = keys;
  if (keys.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
    return value.Ref === 'AWS::NoValue' ? NO_VALUE : evaluate(key, value[key], context);
  }
  return Object.fromEntries(
    Object.entries(value)
      .map(([name, item]) => [name, resolveValue(item, context)])
      .filter(([, item]) => item !== NO_VALUE),
  );
}

function evaluate(fn: string, argument: unknown, context: IntrinsicContext): unknown {
  switch (fn) {
    case 'Ref':
      return ref(String(argument), context);
    case 'Fn::GetAtt': {
      const [resource, attribute] = argument as [string, string];
      return attributeOf(`${resource}.${attribute}`, context);
    }
    case 'Fn::Sub': {
      const [text, variables] = Array.isArray(argument)
        ? (argument as [string, Record<string, unknown>])
        : [String(argument), {}];
      const local = resolveIntrinsics(variables, context) as Record<string, unknown>;
      return text
        .replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
          if (name in local) return String(local[name]);
          return name.includes('.') ? attributeOf(name, context) : ref(name, context);
        })
        .replace(/\$\{!/g, '${');
    }
    case 'Fn::Join': {
      const [separator, items] = argument as [string, unknown[]];
      return (resolveIntrinsics(items, context) as unknown[]).map(String).join(separator);
    }
    case 'Fn::Select': {
      const [index, items] = argument as [number | string, unknown];
      return (resolveIntrinsics(items, context) as unknown[])[Number(index)];
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = argument as [string, unknown, unknown];
      return resolveValue(conditionOf(condition, context) ? whenTrue : whenFalse, context);
    }
    default:
      throw new Error(`${fn} is not supported by the local template evaluator`);
  }
}

/**
 * The value of a condition expression (the Conditions section): Fn::Equals, Fn::Not, Fn::And,
 * Fn::Or, and {Condition: name} for another condition, which `condition` evaluates.
 */
export function conditionValue(
  expression: unknown,
  context: IntrinsicContext,
  condition: (name: string) => boolean,
): boolean {
  const [fn, argument] = isRecord(expression) ? (Object.entries(expression)[0] ?? []) : [];
  const operands = (): unknown[] => (Array.isArray(argument) ? (argument as unknown[]) : []);
  const value = (item: unknown) => conditionValue(item, context, condition);
  switch (fn) {
    case 'Fn::Equals': {
      const [left, right] = operands().map((item) => String(resolveIntrinsics(item, context)));
      return left === right;
    }
    case 'Fn::Not':
      return !value(operands()[0]);
    case 'Fn::And':
      return operands().every(value);
    case 'Fn::Or':
      return operands().some(value);
    case 'Condition':
      return condition(String(argument));
    default:
      throw new Error(`${JSON.stringify(expression)} is not a condition the local evaluator knows`);
  }
}

function ref(name: string, context: IntrinsicContext): string {
  const value = context.refs[name];
  if (value === undefined) throw new Error(`Ref ${name}: no such parameter or resource`);
  return value;
}

function attributeOf(name: string, context: IntrinsicContext): string {
  const value = context.attributes?.[name];
  if (value === undefined) throw new Error(`Fn::GetAtt ${name}: no such attribute`);
  return value;
}

function conditionOf(name: string, context: IntrinsicContext): boolean {
  const value = context.conditions?.[name];
  if (value === undefined) throw new Error(`condition ${name} is not defined`);
  return value;
}
