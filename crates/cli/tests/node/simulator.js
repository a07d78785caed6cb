#!/usr/bin/env node
// Runs one tplink-smarthome-simulator device (the pinned npm package, not our emulator) on a
// loopback address until killed or until stdin closes.
//
//   node simulator.js --model hs110|hs110v2|hs300|hs100|hs105|hs200|hs220 --address 127.X.Y.Z
//                     [--port P] [--alias A] [--mac M] [--device-id ID]
//
// The simulator binds UDP on the port (0 picks one) and then TCP on the same number.
// stdout is JSON lines:
//   {"event":"listening","host":…,"port":…,"model":…,"sysinfo":{…}}    once, when bound
//   {"event":"request","protocol":"tcp"|"udp","message":"<decrypted JSON text>"}  per request
//   {"event":"sysinfo","sysinfo":{…}}      in answer to the stdin line "sysinfo"
//   {"event":"error","message":…}          failures (a bind failure exits with code 1)
// The module is found through NODE_PATH ($PLUGCTL_NODE_INTEROP/node_modules, installed by
// ./scripts/test.sh).
'use strict';

const readline = require('readline');

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

let Device;
try {
  ({ Device } = require('tplink-smarthome-simulator'));
} catch (e) {
  emit({ event: 'error', message: `tplink-smarthome-simulator not installed (run ./scripts/test.sh): ${e.message}` });
  process.exit(3);
}

function usage(msg) {
  process.stderr.write(
    `${msg}\nusage: simulator.js --model M --address 127.X.Y.Z [--port P] [--alias A] [--mac M] [--device-id ID]\n`,
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const opts = { port: 0 };
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i];
  const val = argv[i + 1];
  if (val === undefined) usage(`${key} needs a value`);
  if (key === '--model') opts.model = val;
  else if (key === '--address') opts.address = val;
  else if (key === '--port') opts.port = Number(val);
  else if (key === '--alias') opts.alias = val;
  else if (key === '--mac') opts.mac = val;
  else if (key === '--device-id') opts.deviceId = val;
  else usage(`unknown option ${key}`);
}
if (!opts.model) usage('--model is required');
if (!Device.models.includes(opts.model)) usage(`unknown model ${opts.model}; known: ${Device.models.join(', ')}`);
// Loopback only: the tests must never put a simulated plug on a real network.
if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(opts.address || '')) usage('--address must be a 127.0.0.0/8 address');
if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad --port');

const data = {};
if (opts.mac !== undefined) data.mac = opts.mac;
if (opts.deviceId !== undefined) data.deviceId = opts.deviceId;
const device = new Device({
  model: opts.model,
  address: opts.address,
  port: opts.port,
  alias: opts.alias,
  data,
});

// The simulator's own view of the device, straight from its API table (no network).
function sysinfo() {
  return device.api.system.get_sysinfo();
}

device.deviceNetworking.on('data', (d) => {
  emit({ event: 'request', protocol: d.protocol, message: d.message });
});
device.deviceNetworking.on('error', (err) => {
  emit({ event: 'error', message: String(err && err.message ? err.message : err) });
});

device
  .start()
  .then(() => {
    emit({ event: 'listening', host: device.address, port: device.port, model: opts.model, sysinfo: sysinfo() });
  })
  .catch((err) => {
    emit({ event: 'error', message: `could not bind ${opts.address}:${opts.port}: ${err && err.message}` });
    process.exit(1);
  });

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'sysinfo') emit({ event: 'sysinfo', sysinfo: sysinfo() });
});
rl.on('close', () => process.exit(0));
