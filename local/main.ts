import { startLocalConnector } from './connector.js';
import { DEFAULT_PUSH_TOKEN, LocalSettingsError, localSettingsFromEnv } from './settings.js';
import { loadTemplate } from './template/sam-template.js';

// `npm start`: the whole connector on this machine. Prints where everything is, then
// "connector ready"; Ctrl-C stops it.

/* eslint-disable no-console -- this is the command's output */
const template = loadTemplate();
let settings;
try {
  settings = localSettingsFromEnv(process.env, template);
} catch (error) {
  if (!(error instanceof LocalSettingsError)) throw error;
  console.error(`npm start: ${error.message}`);
  process.exit(2);
}

const connector = await startLocalConnector(settings, { template });
const { endpoints } = connector;
const token =
  settings.pushToken === DEFAULT_PUSH_TOKEN
    ? `${settings.pushToken} (development default; set PUSH_TOKEN)`
    : '(from PUSH_TOKEN)';
const orbiwan =
  connector.simulator === undefined
    ? `${endpoints.orbiwan} (real OrbiWAN, ORBIWAN_URL)`
    : `${endpoints.orbiwan} (simulator: ${String(settings.simulator.devices)} devices, user ${JSON.stringify('connector')})`;
const prefix = connector.stack.parameters.TopicPrefix ?? '';
const { PayloadCodecs, DeviceShadows, ShadowName } = connector.stack.parameters;
const codecs =
  PayloadCodecs === 'Enabled'
    ? `\n  payload codecs        npx orbiwan-codec list --table ${connector.stack.refs.DeviceCodecsTable ?? ''} --endpoint-url ${endpoints.aws}`
    : '\n  payload codecs        off (PAYLOAD_CODECS=Enabled)';
const shadows =
  DeviceShadows === 'Enabled'
    ? `\n  device shadows        aws iot-data get-thing-shadow --endpoint-url ${endpoints.aws} --thing-name <deveui> --shadow-name ${ShadowName ?? ''} shadow.json`
    : '\n  device shadows        off (DEVICE_SHADOWS=Enabled)';
console.log(`OrbiWAN connector, local stack
  lifecycle page        ${endpoints.http}/
  push API (OrbiWAN)    ${endpoints.http}/rest/callback/...   token: ${token}
  MQTT                  ${endpoints.mqtt}   WebSocket: ${endpoints.mqttWebSocket}
  topics                ${prefix}/{deveui}/...   downlinks: ${prefix}/{deveui}/downlink
  AWS services          ${endpoints.aws}   (aws --endpoint-url ${endpoints.aws} stepfunctions list-executions ...)
  IoT HTTPS (mTLS)      ${endpoints.iotHttps}/topics/{topic}?qos=1   certificates: ${connector.certificates.directory}
  OrbiWAN               ${orbiwan}${codecs}${shadows}
connector ready`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void connector.close().then(() => process.exit(0));
  });
}
