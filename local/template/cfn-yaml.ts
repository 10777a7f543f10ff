import { readFileSync } from 'node:fs';
import { parse, type Tags, type YAMLMap, type YAMLSeq, type Scalar } from 'yaml';

type Collection = YAMLMap.Parsed | YAMLSeq.Parsed;

// CloudFormation's short-form intrinsic functions (!Ref, !Sub, ...) as YAML tags, loaded into
// their long JSON form ({"Ref": ...}, {"Fn::Sub": ...}) so code reads one shape only.
const FUNCTIONS = [
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'GetAZs',
  'If',
  'ImportValue',
  'Join',
  'Not',
  'And',
  'Or',
  'Select',
  'Split',
  'Sub',
  'Transform',
  'ToJsonString',
  'Length',
] as const;

function intrinsicTags(): Tags {
  const tags: Tags = [
    { tag: '!Ref', resolve: (value: string) => ({ Ref: value }) },
    { tag: '!Condition', resolve: (value: string) => ({ Condition: value }) },
    // !GetAtt Resource.Attribute is the scalar form of ["Resource", "Attribute"].
    {
      tag: '!GetAtt',
      resolve: (value: string) => {
        const dot = value.indexOf('.');
        return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
      },
    },
    {
      tag: '!GetAtt',
      collection: 'seq',
      resolve: (seq: Collection) => ({ 'Fn::GetAtt': seq.toJSON() as unknown }),
    },
  ];
  for (const name of FUNCTIONS) {
    const tag = `!${name}`;
    const key = `Fn::${name}`;
    tags.push(
      { tag, resolve: (value: string | Scalar) => ({ [key]: value }) },
      {
        tag,
        collection: 'seq',
        resolve: (seq: Collection) => ({ [key]: seq.toJSON() as unknown }),
      },
      {
        tag,
        collection: 'map',
        resolve: (map: Collection) => ({ [key]: map.toJSON() as unknown }),
      },
    );
  }
  return tags;
}

export function parseCfnYaml(text: string): unknown {
  // CloudFormation limits templates to 1 MB: no need to guard against alias bombs beyond yaml's own.
  return parse(text, { customTags: intrinsicTags(), maxAliasCount: -1 });
}

export function readCfnYaml(path: string): unknown {
  return parseCfnYaml(readFileSync(path, 'utf8'));
}
