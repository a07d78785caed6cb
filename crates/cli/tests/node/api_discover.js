#!/usr/bin/env node
// UDP discovery with tplink-smarthome-api (the pinned npm package) of the given devices.
//
//   node api_discover.js PORT HOST [HOST…]
//
// Client.startDiscovery sends its query to every {host, port: PORT} (unicast) and, as it
// always does, to a broadcast address on port 9999: here 127.255.255.255, never a LAN
// broadcast. Strips are reported as one device (breakoutChildren: false). Prints ONE JSON
// document: {"found": [{host, port, deviceId, model, mac, alias, deviceType, children}],
// "invalid": [...]} once every host answered or after 8 s; exit code 1 if a host is missing or
// any reply was invalid.
'use strict';

let Client;
try {
  ({ Client } = require('tplink-smarthome-api'));
} catch (e) {
  process.stdout.write(
    `${JSON.stringify({ fatal: `tplink-smarthome-api not installed (run ./scripts/test.sh): ${e.message}` })}\n`,
  );
  process.exit(3);
}

const argv = process.argv.slice(2);
const port = Number(argv[0]);
const hosts = argv.slice(1);
if (!Number.isInteger(port) || port <= 0 || port > 65535 || hosts.length === 0) {
  process.stderr.write('usage: api_discover.js PORT HOST [HOST…]\n');
  process.exit(2);
}
if (!hosts.every((h) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h))) {
  process.stderr.write('api_discover.js: loopback (127.0.0.0/8) hosts only\n');
  process.exit(2);
}

const client = new Client({ logLevel: 'silent' });
const found = new Map();
const invalid = [];
let done = false;

function finish() {
  if (done) return;
  done = true;
  client.stopDiscovery();
  const missing = hosts.filter((h) => !found.has(h));
  process.stdout.write(`${JSON.stringify({ found: Array.from(found.values()), invalid, missing })}\n`);
  process.exit(missing.length === 0 && invalid.length === 0 ? 0 : 1);
}

client.on('device-new', (device) => {
  found.set(device.host, {
    host: device.host,
    port: device.port,
    deviceId: device.deviceId,
    model: device.model,
    mac: device.mac,
    alias: device.alias,
    deviceType: device.deviceType,
    children: device.children ? Array.from(device.children.keys()) : [],
  });
  if (hosts.every((h) => found.has(h))) finish();
});
client.on('discovery-invalid', ({ rinfo, decryptedResponse }) => {
  invalid.push({ from: `${rinfo.address}:${rinfo.port}`, decrypted: String(decryptedResponse) });
});
client.on('error', (err) => {
  invalid.push({ error: String(err && err.message ? err.message : err) });
  finish();
});

client.startDiscovery({
  address: '127.0.0.1',
  port: 0,
  broadcast: '127.255.255.255',
  devices: hosts.map((host) => ({ host, port })),
  devicesUseDiscoveryPort: true,
  breakoutChildren: false,
  discoveryInterval: 500,
  discoveryTimeout: 0,
});
setTimeout(finish, 8000);
