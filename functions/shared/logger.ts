import { Logger } from '@aws-lambda-powertools/logger';

// One logger per function instance; service name and level come from POWERTOOLS_* variables.
export const logger = new Logger();
