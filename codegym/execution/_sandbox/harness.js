// The in-child test harness for JavaScript (node): the counterpart of harness.py.
//
// Started by the sandbox worker (external.py) as `node [limits] harness.js` after the child has dropped
// its privileges. File descriptor 4 holds the job: a 16-byte nonce, then JSON {setup, code, tests}; it is
// read and closed before any untrusted code runs, so the candidate finds neither the nonce nor the tests
// in a file or a global. Verdicts go to fd 3 in the frame format of harness.py (nonce, kind, index,
// payload length, payload); the worker enforces every deadline and treats a missing, out-of-order or
// unauthenticated frame as a crash, never as a pass.
//
// Everything the harness uses is bound here, before the candidate runs. Tests see a frozen copy of
// node's `assert` (node's own assertion code uses "primordials", so patching Object or Array methods
// does not change it), and before and after every test the harness checks that the candidate has not
// replaced the standard built-ins (Array.prototype.includes, JSON.stringify, ...) the tests may use.
'use strict';

const fs = require('fs');
const vm = require('vm');
const assertModule = require('assert');

const writeSync = fs.writeSync;
const hrtime = process.hrtime.bigint;
const reallyExit = typeof process.reallyExit === 'function' ? process.reallyExit.bind(process) : process.exit.bind(process);
const BufferAlloc = Buffer.alloc;
const BufferFrom = Buffer.from;
const BufferConcat = Buffer.concat;
const BufferByteLength = Buffer.byteLength;
const Number_ = Number;
const String_ = String;
const ReflectOwnKeys = Reflect.ownKeys;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ObjectFreeze = Object.freeze;
const ObjectIs = Object.is;
const ObjectAssign = Object.assign;
const ObjectCreate = Object.create;
const ArrayIsArray = Array.isArray;
const JSONParse = JSON.parse;
const mypid = process.pid;
const getpid = () => process.pid;
const realRequire = require;
const Script = vm.Script;
const AssertionError = assertModule.AssertionError;
const RangeError_ = RangeError;
const SyntaxError_ = SyntaxError;
const Promise_ = Promise;
const setImmediate_ = setImmediate;

const K_BEGIN = 0x42, K_END = 0x45, K_DONE = 0x44; // 'B', 'E', 'D'
const R_PASS = 'P', R_FAIL = 'F', R_ERROR = 'E', R_MEMORY = 'M', R_SYNTAX = 'X', R_INFRA = 'I';
const PHASE_SETUP = -2, PHASE_CODE = -1;
const MAX_PAYLOAD = 3000;

// ---------------------------------------------------------------------------------------------------
// The job: read fd 4 to the end, then close it.

function readAll(fd) {
  const chunks = [];
  const buf = BufferAlloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if (e && e.code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 0) break;
    chunks.push(BufferFrom(buf.subarray(0, n)));
  }
  return BufferConcat(chunks);
}

const input = readAll(4);
fs.closeSync(4);
const nonce = BufferFrom(input.subarray(0, 16));
const job = JSONParse(input.subarray(16).toString('utf8'));
const tests = job.tests;
const nTests = tests.length;

// ---------------------------------------------------------------------------------------------------
// Frames.

function now() {
  return Number_(hrtime()) / 1e9; // CLOCK_MONOTONIC, the clock of the worker's time.monotonic()
}

let began = 0;

function short(text, limit) {
  text = typeof text === 'string' ? text : String_(text);
  return text.length <= limit ? text : text.slice(0, limit - 3) + '...';
}

function send(kind, index, result, exc, msg) {
  if (getpid() !== mypid) reallyExit(0);
  let payload;
  const t = now();
  if (kind === K_BEGIN) {
    began = t;
    payload = BufferAlloc(8);
    payload.writeDoubleLE(t, 0);
  } else if (kind === K_END) {
    const head = BufferAlloc(9);
    head.write(result, 0, 'ascii');
    head.writeDoubleLE(t - began, 1);
    const text = BufferFrom(short(exc || '', 200) + '\0' + short(msg || '', 400), 'utf8');
    payload = BufferConcat([head, text]).subarray(0, MAX_PAYLOAD);
  } else {
    payload = BufferAlloc(0);
  }
  const header = BufferAlloc(7);
  header.writeUInt8(kind, 0);
  header.writeInt32LE(index, 1);
  header.writeInt16LE(payload.length, 5);
  const frame = BufferConcat([nonce, header, payload]);
  let off = 0;
  while (off < frame.length) off += writeSync(3, frame, off, frame.length - off);
}

function finish() {
  send(K_DONE, 0);
  reallyExit(0);
}

function describe(e) {
  // Never call the candidate's methods: read own data properties only.
  let name = 'Error';
  let message = '';
  try {
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      let proto = e;
      for (let i = 0; i < 50 && proto; i++) {
        const d = getOwnPropertyDescriptor(proto, 'constructor');
        if (d && 'value' in d && typeof d.value === 'function') {
          const n = getOwnPropertyDescriptor(d.value, 'name');
          if (n && typeof n.value === 'string') name = n.value;
          break;
        }
        proto = Object.getPrototypeOf(proto);
      }
      const m = getOwnPropertyDescriptor(e, 'message');
      if (m && typeof m.value === 'string') message = m.value;
    } else {
      name = 'thrown ' + typeof e;
      message = String_(e);
    }
  } catch (_) {
    // a Proxy or a hostile getter: keep what we have
  }
  return [name, message];
}

function classify(e) {
  const [name, message] = describe(e);
  let isAssertion = false;
  try {
    isAssertion = e instanceof AssertionError;
  } catch (_) {
    isAssertion = false;
  }
  if (isAssertion) return [R_FAIL, 'AssertionError', message];
  if (name === 'RangeError' && message === 'Array buffer allocation failed') return [R_MEMORY, name, message];
  return [R_ERROR, name, message];
}

// ---------------------------------------------------------------------------------------------------
// What the tests rely on: a frozen copy of `assert`, and a snapshot of the standard built-ins.

function frozenAssert(mod) {
  const copy = function assert(...args) {
    return mod.apply(undefined, args);
  };
  for (const key of ReflectOwnKeys(mod)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    const d = getOwnPropertyDescriptor(mod, key);
    if (d && 'value' in d) copy[key] = d.value;
  }
  return ObjectFreeze(copy);
}

const safeAssert = frozenAssert(assertModule);
const safeStrict = frozenAssert(assertModule.strict);
const TRUSTED_MODULES = {
  assert: safeAssert,
  'node:assert': safeAssert,
  'assert/strict': safeStrict,
  'node:assert/strict': safeStrict,
};

function trustedRequire(name) {
  if (typeof name === 'string' && Object.prototype.hasOwnProperty.call(TRUSTED_MODULES, name)) {
    return TRUSTED_MODULES[name];
  }
  return realRequire(name);
}

const GUARDED = [
  ['globalThis', globalThis], ['Object', Object], ['Object.prototype', Object.prototype],
  ['Function.prototype', Function.prototype], ['Array', Array], ['Array.prototype', Array.prototype],
  ['String', String], ['String.prototype', String.prototype], ['Number', Number],
  ['Number.prototype', Number.prototype], ['Boolean.prototype', Boolean.prototype],
  ['BigInt.prototype', BigInt.prototype], ['Symbol', Symbol], ['Math', Math], ['JSON', JSON],
  ['Reflect', Reflect], ['Map.prototype', Map.prototype], ['Set.prototype', Set.prototype],
  ['Promise', Promise], ['Promise.prototype', Promise.prototype], ['RegExp.prototype', RegExp.prototype],
  ['Error', Error], ['Error.prototype', Error.prototype], ['Date.prototype', Date.prototype],
  ['assert', assertModule],
];

function snapshot() {
  const snap = [];
  for (const [label, obj] of GUARDED) {
    for (const key of ReflectOwnKeys(obj)) {
      const d = getOwnPropertyDescriptor(obj, key);
      if (!d) continue;
      snap.push([label, obj, key, 'value' in d ? d.value : undefined, d.get, d.set]);
    }
  }
  return snap;
}

let SNAP = null;

function intact() {
  for (let i = 0; i < SNAP.length; i++) {
    const [label, obj, key, value, get, set] = SNAP[i];
    const d = getOwnPropertyDescriptor(obj, key);
    if (!d || !ObjectIs(d.value, value) || d.get !== get || d.set !== set) {
      if (label === 'globalThis' && typeof key === 'string' && /^[a-z_$]/.test(key)) continue;
      return `${label}.${String_(key)} was replaced`;
    }
  }
  return '';
}

// ---------------------------------------------------------------------------------------------------
// The run: set-up, candidate, tests.

// Standard globals a test may use: bound as parameters of its wrapper, so that a candidate that declares
// `const JSON = ...` (which would shadow the global in later scripts) does not change what tests see.
const STD_NAMES = [
  'Object', 'Array', 'String', 'Number', 'Boolean', 'BigInt', 'Symbol', 'Math', 'JSON', 'Reflect', 'Map',
  'Set', 'WeakMap', 'WeakSet', 'Promise', 'RegExp', 'Error', 'TypeError', 'RangeError', 'Date', 'isNaN',
  'isFinite', 'parseInt', 'parseFloat', 'Buffer', 'structuredClone',
];
const STD_VALUES = STD_NAMES.map((name) => globalThis[name]);

function compileTest(src, i) {
  // `assert` comes from the harness (a candidate cannot swap it); the test body may still declare its
  // own, and top-level declarations of set-up and candidate are visible (same global scope).
  const wrapped = `(function (require, ${STD_NAMES.join(', ')}) { const assert = require("assert"); ` +
    'return async function () {\n' + src + '\n}; })';
  return new Script(wrapped, { filename: `test ${i}`, lineOffset: -1 }).runInThisContext()(
    trustedRequire, ...STD_VALUES);
}

async function main() {
  globalThis.require = trustedRequire;
  globalThis.module = { exports: {} };
  globalThis.exports = globalThis.module.exports;

  send(K_BEGIN, PHASE_SETUP);
  try {
    if (job.setup) new Script(job.setup, { filename: 'setup.js' }).runInThisContext();
  } catch (e) {
    const [, name, message] = classify(e);
    send(K_END, PHASE_SETUP, R_INFRA, name, 'set-up code failed: ' + message);
    finish();
  }
  send(K_END, PHASE_SETUP, R_PASS);

  const compiled = [];
  for (let i = 0; i < nTests; i++) {
    try {
      compiled.push(compileTest(tests[i], i));
    } catch (e) {
      const [, name, message] = classify(e);
      compiled.push([name, message]);
    }
  }
  SNAP = snapshot();

  send(K_BEGIN, PHASE_CODE);
  let script;
  try {
    script = new Script(job.code, { filename: 'solution.js' });
  } catch (e) {
    const [kind, name, message] = classify(e);
    send(K_END, PHASE_CODE, e instanceof SyntaxError_ ? R_SYNTAX : kind, name, message);
    finish();
  }
  try {
    script.runInThisContext();
    if (nTests === 0) {
      // A whole program: let promise chains and immediate callbacks run before it counts as finished.
      await new Promise_((resolve) => setImmediate_(resolve));
    }
  } catch (e) {
    const [kind, name, message] = classify(e);
    send(K_END, PHASE_CODE, kind, name, message);
    finish();
  }
  send(K_END, PHASE_CODE, R_PASS);

  for (let i = 0; i < nTests; i++) {
    send(K_BEGIN, i);
    const test = compiled[i];
    if (typeof test !== 'function') {
      send(K_END, i, R_INFRA, 'SyntaxError', 'test does not compile: ' + test[0] + ': ' + test[1]);
      continue;
    }
    let problem = intact();
    if (problem) {
      send(K_END, i, R_ERROR, 'Tampering', 'candidate modified the test environment: ' + problem);
      break;
    }
    let kind = R_PASS, name = '', message = '';
    try {
      await test();
    } catch (e) {
      [kind, name, message] = classify(e);
    }
    problem = intact();
    if (problem) {
      send(K_END, i, R_ERROR, 'Tampering', 'candidate modified the test environment: ' + problem);
      break;
    }
    send(K_END, i, kind, name, message);
  }
  finish();
}

main().catch(() => reallyExit(70));
