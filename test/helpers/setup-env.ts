// Every test process starts from the same AWS-free environment: a region and dummy credentials,
// so SDK clients never look for real ones, and Powertools logging to the global console, so tests
// can capture and silence it (see logs.ts).
process.env.AWS_REGION = 'eu-west-1';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_SERVICE_NAME = 'orbiwan-connector';
delete process.env.AWS_PROFILE;
// Metrics as in Lambda (POWERTOOLS_DEV alone would switch them off), under a namespace of their own.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'OrbiwanConnector/test';
