import { loadTemplate, type CfnTemplate } from '../../local/template/sam-template.js';
import { describeStack, type LocalStack } from '../../local/template/stack.js';

/** Values for the parameters that have no default, as a user would give them to sam deploy. */
export const SAMPLE_PARAMETERS = {
  OrbiwanBaseUrl: 'https://orbiwan.example.com',
  OrbiwanCredentialsSecretArn:
    'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orbiwan-credentials-AbCdEf',
};

/** The template as deployed with the sample parameters (plus any given here). */
export function sampleStack(
  parameters: Record<string, string> = {},
  template: CfnTemplate = loadTemplate(),
): LocalStack {
  return describeStack(template, { parameters: { ...SAMPLE_PARAMETERS, ...parameters } });
}
