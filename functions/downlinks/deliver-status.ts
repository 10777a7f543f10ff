import { SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';

/** What a waiting execution receives when its downlink's status changes. */
export interface DeliveredStatus {
  id: string;
  transmissionStatus: number;
}

/** 'gone' when the execution no longer waits on that token (it moved on, timed out or ended). */
export type DeliverStatus = (
  taskToken: string,
  status: DeliveredStatus,
) => Promise<'delivered' | 'gone'>;

const GONE = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

/** Resumes the execution waiting in WaitForStatus (SendTaskSuccess with the status as output). */
export function stepFunctionsDelivery(client: SFNClient): DeliverStatus {
  return async (taskToken, status) => {
    try {
      await client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(status) }));
      return 'delivered';
    } catch (error) {
      if (error instanceof Error && GONE.has(error.name)) return 'gone';
      throw error;
    }
  };
}
