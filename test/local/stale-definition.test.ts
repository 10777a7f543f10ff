import { describe, expect, it } from 'vitest';
import { startLocalCloud } from '../../local/local-cloud.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { sampleStack } from '../helpers/sample-stack.js';

// The local stack runs the Definition that deploys. A definition file edited without copying it
// into the template would run here as it never would on AWS: the local stack refuses to start.

describe('Local stack: state machine definitions', () => {
  it('refuses to start while a definition file and its inline copy differ, and says what to run', async () => {
    const template = loadTemplate();
    const machine = template.Resources.DownlinkStateMachine?.Properties ?? {};
    const definition = machine.Definition as { Comment: string };
    machine.Definition = { ...definition, Comment: `${definition.Comment} (edited)` };

    await expect(
      startLocalCloud({ template, stack: sampleStack(), secrets: {}, onPublish: () => undefined }),
    ).rejects.toThrow(
      "DownlinkStateMachine: template.yaml's Definition is not statemachines/downlink.asl.json as it is now; run npm run generate",
    );
  });
});
