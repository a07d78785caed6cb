#!/usr/bin/env node
// Drives one Kasa device with tplink-smarthome-api (the pinned npm package, never our code) and
// prints ONE JSON document with everything each call returned.
//
//   node api_probe.js HOST PORT [--child ID] [--power on|off] [--add-rule NAME] [--year Y --month M]
//
// --power switches with setPowerState and reads back with getPowerState; --add-rule adds an
// "off at 21:30 Mon-Fri" schedule rule with schedule.addRule and reads the rules again.
//
// Every step is recorded as {"ok": value} or {"error": {...}}; a failed step never hides the
// others. Exit code: 0 when every step succeeded, 1 when any failed, 2 on bad arguments.
// Without --year/--month the statistics are asked for the device's own current month, read
// with time.getTime(). The module is found through NODE_PATH (set by the Rust tests to
// $PLUGCTL_NODE_INTEROP/node_modules; ./scripts/test.sh installs it).
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

function usage(msg) {
  process.stderr.write(`${msg}\nusage: api_probe.js HOST PORT [--child ID] [--power on|off] [--add-rule NAME] [--year Y --month M]\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
if (argv.length < 2) usage('missing HOST PORT');
const host = argv[0];
const port = Number(argv[1]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) usage(`bad port ${argv[1]}`);
const opts = {};
for (let i = 2; i < argv.length; i += 2) {
  const key = argv[i];
  const val = argv[i + 1];
  if (val === undefined) usage(`${key} needs a value`);
  if (key === '--child') opts.childId = val;
  else if (key === '--power') {
    if (val !== 'on' && val !== 'off') usage('--power takes on or off');
    opts.power = val === 'on';
  } else if (key === '--add-rule') opts.addRule = val;
  else if (key === '--year') opts.year = Number(val);
  else if (key === '--month') opts.month = Number(val);
  else usage(`unknown option ${key}`);
}

// Errors as data: ResponseError carries the device's reply and the command that caused it.
function errorJson(err) {
  const out = { name: err && err.name, message: String(err && err.message ? err.message : err) };
  if (err && err.response !== undefined) out.response = err.response;
  if (err && err.command !== undefined) out.command = err.command;
  if (err && err.errorModules !== undefined) out.errorModules = err.errorModules;
  return out;
}

async function main() {
  const client = new Client({
    // Never broadcast: this client only talks to the given loopback host.
    defaultSendOptions: { timeout: 10000, transport: 'tcp' },
    logLevel: 'silent',
  });
  const doc = { host, port, steps: {} };
  let failed = false;
  async function step(name, fn) {
    try {
      const value = await fn();
      // Snapshot now: the library keeps mutating the objects it returned (cached sysInfo).
      doc.steps[name] = { ok: value === undefined ? null : JSON.parse(JSON.stringify(value)) };
      return value;
    } catch (err) {
      failed = true;
      doc.steps[name] = { error: errorJson(err) };
      return undefined;
    }
  }

  const deviceOptions = { host, port };
  if (opts.childId !== undefined) deviceOptions.childId = opts.childId;
  const device = await step('getDevice', async () => {
    const d = await client.getDevice(deviceOptions);
    return {
      deviceType: d.deviceType,
      model: d.model,
      alias: d.alias,
      id: d.id,
      deviceId: d.deviceId,
      mac: d.mac,
      macNormalized: d.macNormalized,
      softwareVersion: d.softwareVersion,
      hardwareVersion: d.hardwareVersion,
      childId: d.childId === undefined ? null : d.childId,
      children: d.children ? Array.from(d.children.keys()) : [],
      supportsEmeter: d.supportsEmeter,
      relayState: d.relayState,
    };
  });
  if (device === undefined) {
    process.stdout.write(`${JSON.stringify(doc)}\n`);
    process.exit(1);
  }
  // getDevice returned plain facts above; keep the live object for the calls below.
  const plug = await client.getDevice(deviceOptions);

  await step('getSysInfo', () => plug.getSysInfo());
  await step('getInfo', () => plug.getInfo());
  await step('cloud.getInfo', () => plug.cloud.getInfo());
  const time = await step('time.getTime', () => plug.time.getTime());
  await step('time.getTimezone', () => plug.time.getTimezone());
  const year = opts.year !== undefined ? opts.year : time && time.year;
  const month = opts.month !== undefined ? opts.month : time && time.month;
  doc.statsYear = year === undefined ? null : year;
  doc.statsMonth = month === undefined ? null : month;
  if (plug.supportsEmeter) {
    await step('emeter.getRealtime', () => plug.emeter.getRealtime());
    // The same call through the generic sendCommand: the fields exactly as on the wire
    // (getRealtime adds the other unit scheme's names).
    await step('emeter.get_realtime.wire', () => plug.sendCommand({ emeter: { get_realtime: {} } }));
    await step('emeter.getDayStats', () => plug.emeter.getDayStats(year, month));
    await step('emeter.getMonthStats', () => plug.emeter.getMonthStats(year));
  }
  await step('schedule.getRules', () => plug.schedule.getRules());
  await step('schedule.getNextAction', () => plug.schedule.getNextAction());
  await step('schedule.getDayStats', () => plug.schedule.getDayStats(year, month));
  await step('schedule.getMonthStats', () => plug.schedule.getMonthStats(year));
  if (opts.addRule !== undefined) {
    const added = await step('schedule.addRule', () =>
      plug.schedule.addRule({
        powerState: false,
        start: 21 * 60 + 30,
        daysOfWeek: [1, 2, 3, 4, 5],
        name: opts.addRule,
        enable: true,
      }),
    );
    if (added !== undefined) await step('schedule.getRule', () => plug.schedule.getRule(added.id));
    await step('schedule.getRules.after', () => plug.schedule.getRules());
  }
  if (opts.power !== undefined) {
    await step('setPowerState', () => plug.setPowerState(opts.power));
    await step('getPowerState', () => plug.getPowerState());
  }
  process.stdout.write(`${JSON.stringify(doc)}\n`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  process.stdout.write(`${JSON.stringify({ fatal: errorJson(err) })}\n`);
  process.exit(1);
});
