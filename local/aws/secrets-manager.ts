import { jsonProtocolService, type AwsService } from './aws-endpoint.js';
import { AwsServiceError } from './aws-errors.js';

// Secrets Manager's GetSecretValue (JSON 1.1, x-amz-target: secretsmanager.GetSecretValue) over an
// in-memory map keyed by ARN; a secret can be asked for by ARN or by name, as in AWS.

export class SecretsStore {
  private readonly byArn = new Map<string, string>();

  /** Stores a secret under its full ARN (arn:aws:secretsmanager:...:secret:{name}-{6 chars}). */
  put(arn: string, value: string): void {
    this.byArn.set(arn, value);
  }

  service(): AwsService {
    return jsonProtocolService('secrets-manager', 'secretsmanager', '1.1', {
      GetSecretValue: (input) => this.getSecretValue(input),
    });
  }

  private getSecretValue(input: Record<string, unknown>): unknown {
    const secretId = typeof input.SecretId === 'string' ? input.SecretId : '';
    const arn = [...this.byArn.keys()].find((key) => key === secretId || nameOf(key) === secretId);
    if (arn === undefined) {
      throw new AwsServiceError(
        'ResourceNotFoundException',
        400,
        "Secrets Manager can't find the specified secret.",
      );
    }
    return {
      ARN: arn,
      Name: nameOf(arn),
      SecretString: this.byArn.get(arn),
      VersionId: '00000000-0000-0000-0000-000000000001',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: 1_795_694_400,
    };
  }
}

function nameOf(arn: string): string {
  return arn.slice(arn.indexOf(':secret:') + ':secret:'.length).replace(/-[A-Za-z0-9]{6}$/, '');
}
