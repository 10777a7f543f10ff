// The payload codec of the OrbiWAN sample sensor, the device the local stack's simulator plays:
// a LoRa Alliance Payload Codec API (TS013-1.0.0) codec, one plain JavaScript file, as device makers
// publish theirs. Part of orbiwan-iot-connector, Apache-2.0.
//
// Uplink, FPort 1, 6 bytes:
//   0      0x01, a measurement
//   1..2   temperature in 0.01 degC, signed, big-endian
//   3      relative humidity in %
//   4..5   battery voltage in mV, big-endian
//
// Downlink, FPort 10:
//   {"interval": <10..65535>}  0x01 + seconds between measurements, big-endian
//   {"led": true|false}        0x02 + 1 or 0

var MEASUREMENT = 0x01;
var SET_INTERVAL = 0x01;
var SET_LED = 0x02;
var LOW_BATTERY_MV = 3000;

function decodeUplink(input) {
  var bytes = input.bytes;
  if (input.fPort !== 1) {
    return { errors: ['FPort ' + input.fPort + ' is not one the sample sensor reports on (1)'] };
  }
  if (bytes.length !== 6 || bytes[0] !== MEASUREMENT) {
    return { errors: ['expected 6 bytes starting with 0x01, got ' + bytes.length + ' bytes'] };
  }
  var temperature = (bytes[1] << 8) | bytes[2];
  if (temperature & 0x8000) temperature -= 0x10000;
  var batteryMv = (bytes[4] << 8) | bytes[5];
  var warnings = [];
  if (batteryMv < LOW_BATTERY_MV) warnings.push('battery low: ' + batteryMv + ' mV');
  return {
    data: { temperature: temperature / 100, humidity: bytes[3], battery: batteryMv / 1000 },
    warnings: warnings,
  };
}

function encodeDownlink(input) {
  var data = input.data;
  if (data === null || typeof data !== 'object') {
    return { errors: ['expected an object: {"interval": seconds} or {"led": true|false}'] };
  }
  if (data.interval !== undefined) {
    var seconds = data.interval;
    if (typeof seconds !== 'number' || seconds % 1 !== 0 || seconds < 10 || seconds > 65535) {
      return { errors: ['interval must be a whole number of seconds, 10 to 65535'] };
    }
    return { bytes: [SET_INTERVAL, (seconds >> 8) & 0xff, seconds & 0xff], fPort: 10 };
  }
  if (data.led !== undefined) {
    if (typeof data.led !== 'boolean') return { errors: ['led must be true or false'] };
    return { bytes: [SET_LED, data.led ? 1 : 0], fPort: 10 };
  }
  return { errors: ['nothing to encode: expected interval or led'] };
}

function decodeDownlink(input) {
  var bytes = input.bytes;
  if (bytes[0] === SET_INTERVAL && bytes.length === 3) {
    return { data: { interval: (bytes[1] << 8) | bytes[2] } };
  }
  if (bytes[0] === SET_LED && bytes.length === 2) return { data: { led: bytes[1] === 1 } };
  return { errors: ['not a sample sensor command'] };
}
