import { basename, join } from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { handlerLocation, isRecord, type CfnTemplate } from '../template/sam-template.js';

// Builds a function the way `sam build` does with `Metadata: BuildMethod: esbuild` (AWS Lambda
// Builders' nodejs_npm_esbuild workflow): esbuild --bundle --platform=node --outdir=<artifacts>,
// its defaults (target es2020, format cjs, minify) unless BuildProperties say otherwise, then every
// BuildProperty as its esbuild flag. The output is flattened: entry foo/bar.ts -> bar.js (.mjs).

export interface BuiltFunction {
  functionId: string;
  /** The bundle Lambda would load. */
  file: string;
  /** The export Lambda would call. */
  exportName: string;
  /** Environment variables SAM adds at build time (Sourcemap adds NODE_OPTIONS). */
  addedEnvironment: Record<string, string>;
  /** Bytes of the bundle by the package they come from ('(ours)' for the project's own code). */
  bytesByPackage: Record<string, number>;
}

const KNOWN_PROPERTIES = new Set([
  'EntryPoints',
  'External',
  'Format',
  'Loader',
  'MainFields',
  'Minify',
  'OutExtension',
  'Sourcemap',
  'SourcesContent',
  'Target',
  'Banner',
]);

export async function samBuild(
  template: CfnTemplate,
  functionId: string,
  artifactsDir: string,
): Promise<BuiltFunction> {
  const metadata = template.Resources[functionId]?.Metadata ?? {};
  if (metadata.BuildMethod !== 'esbuild' || !isRecord(metadata.BuildProperties)) {
    throw new Error(`${functionId}: Metadata.BuildMethod is not esbuild with BuildProperties`);
  }
  const properties = metadata.BuildProperties;
  const unknown = Object.keys(properties).filter((key) => !KNOWN_PROPERTIES.has(key));
  if (unknown.length > 0)
    throw new Error(`${functionId}: sam build does not know BuildProperties ${unknown.join(', ')}`);

  const handler = handlerLocation(template, functionId);
  const entryPoints = properties.EntryPoints as string[];
  // Multi-value properties are lists of "key=value" (OutExtension: [.js=.mjs]).
  const pairs = (key: string): Record<string, string> =>
    Object.fromEntries(
      ((properties[key] as string[] | undefined) ?? []).map((item) => {
        const [name = '', value = ''] = item.split(/=(.*)/s);
        return [name, value];
      }),
    );

  const options: BuildOptions = {
    absWorkingDir: handler.codeDirectory,
    entryPoints,
    bundle: true,
    platform: 'node',
    outdir: artifactsDir,
    target: (properties.Target as string | undefined) ?? 'es2020',
    format: (properties.Format as BuildOptions['format']) ?? 'cjs',
    minify: properties.Minify === undefined || properties.Minify === true,
    sourcemap: properties.Sourcemap === true,
    external: (properties.External as string[] | undefined) ?? [],
    loader: pairs('Loader') as NonNullable<BuildOptions['loader']>,
    outExtension: pairs('OutExtension'),
    banner: pairs('Banner'),
    ...(typeof properties.MainFields === 'string'
      ? { mainFields: properties.MainFields.split(',') }
      : {}),
    ...(properties.SourcesContent === undefined
      ? {}
      : { sourcesContent: properties.SourcesContent === true }),
    logLevel: 'silent',
    metafile: true,
  };
  const { metafile } = await build(options);

  const extension = pairs('OutExtension')['.js'] ?? '.js';
  return {
    functionId,
    file: join(artifactsDir, `${basename(handler.module)}${extension}`),
    exportName: handler.exportName,
    addedEnvironment: properties.Sourcemap === true ? { NODE_OPTIONS: '--enable-source-maps' } : {},
    bytesByPackage: metafile === undefined ? {} : bytesByPackage(metafile),
  };
}

function bytesByPackage(metafile: Metafile): Record<string, number> {
  const bytes: Record<string, number> = {};
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? '(ours)';
      bytes[name] = (bytes[name] ?? 0) + bytesInOutput;
    }
  }
  return bytes;
}
