/** An error the stand-ins answer the way the AWS service would: HTTP status and error name. */
export class AwsServiceError extends Error {
  constructor(
    override readonly name: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The error as the service answers it: its own, or an internal failure described so. */
export function asAwsError(error: unknown, internalFailure: string): AwsServiceError {
  return error instanceof AwsServiceError
    ? error
    : new AwsServiceError('InternalFailureException', 500, internalFailure);
}
