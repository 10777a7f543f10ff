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
