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

// Captured before any untrusted code runs. Methods are called through Reflect.apply, never looked up
// on objects at report time: a candidate that patches Buffer.prototype.write, Array.prototype's
// iterator or Promise.prototype.then must not change what the harness reports.
const apply = Reflect.apply;
const writeSync = fs.writeSync;
const readSync = fs.readSync;
const closeSync = fs.closeSync;
const hrtime = process.hrtime.bigint;
const reallyExit = typeof process.reallyExit === 'function' ? process.reallyExit.bind(process) : process.exit.bind(process);
const BufferAlloc = Buffer.alloc;
const BufferFrom = Buffer.from;
const BufferConcat = Buffer.concat;
const BufWrite = Buffer.prototype.write;
const BufWriteDoubleLE = Buffer.prototype.writeDoubleLE;
const BufWriteUInt8 = Buffer.prototype.writeUInt8;
const BufWriteInt32LE = Buffer.prototype.writeInt32LE;
const BufWriteInt16LE = Buffer.prototype.writeInt16LE;
const BufToString = Buffer.prototype.toString;
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
const TASet = TypedArrayProto.set;
const TASubarray = TypedArrayProto.subarray;
const StrSlice = String.prototype.slice;
const RegExpTest = RegExp.prototype.test;
const ObjectHasOwn = Object.prototype.hasOwnProperty;
const PromiseThen = Promise.prototype.then;
const Number_ = Number;
const String_ = String;
const ReflectOwnKeys = Reflect.ownKeys;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const getPrototypeOf = Object.getPrototypeOf;
const ObjectFreeze = Object.freeze;
const ObjectIs = Object.is;
const JSONParse = JSON.parse;
const mypid = process.pid;
const realRequire = require;
const Script = vm.Script;
const AssertionError = assertModule.AssertionError;
const SyntaxError_ = SyntaxError;
const setImmediate_ = setImmediate;
const LOWER_NAME = /^[a-z_$]/;

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
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if (e && e.code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 0) break;
    chunks.push(BufferFrom(apply(TASubarray, buf, [0, n])));
  }
  return BufferConcat(chunks);
}

const input = readAll(4);
closeSync(4);
const nonce = BufferFrom(apply(TASubarray, input, [0, 16]));
const job = JSONParse(apply(BufToString, apply(TASubarray, input, [16]), ['utf8']));
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
  return text.length <= limit ? text : apply(StrSlice, text, [0, limit - 3]) + '...';
}

function send(kind, index, result, exc, msg) {
  if (process.pid !== mypid) reallyExit(0);
  const t = now();
  let frame;
  let plen = 0;
  if (kind === K_BEGIN) {
    began = t;
    frame = BufferAlloc(23 + 8);
    apply(BufWriteDoubleLE, frame, [t, 23]);
    plen = 8;
  } else if (kind === K_END) {
    const text = short(exc || '', 200) + '\0' + short(msg || '', 400);
    frame = BufferAlloc(23 + MAX_PAYLOAD);
    apply(BufWrite, frame, [result, 23, 1, 'latin1']);
    apply(BufWriteDoubleLE, frame, [t - began, 24]);
    plen = 9 + apply(BufWrite, frame, [text, 32, MAX_PAYLOAD - 9, 'utf8']);
  } else {
    frame = BufferAlloc(23);
  }
  apply(TASet, frame, [nonce, 0]);
  apply(BufWriteUInt8, frame, [kind, 16]);
  apply(BufWriteInt32LE, frame, [index, 17]);
  apply(BufWriteInt16LE, frame, [plen, 21]);
  const total = 23 + plen;
  let off = 0;
  while (off < total) off += writeSync(3, frame, off, total - off);
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
        proto = getPrototypeOf(proto);
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
  const d = describe(e);
  let isAssertion = false;
  try {
    isAssertion = e instanceof AssertionError;
  } catch (_) {
    isAssertion = false;
  }
  if (isAssertion) return [R_FAIL, 'AssertionError', d[1]];
  if (d[0] === 'RangeError' && d[1] === 'Array buffer allocation failed') return [R_MEMORY, d[0], d[1]];
  return [R_ERROR, d[0], d[1]];
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
  if (typeof name === 'string' && apply(ObjectHasOwn, TRUSTED_MODULES, [name])) {
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
    const entry = SNAP[i];
    const d = getOwnPropertyDescriptor(entry[1], entry[2]);
    if (!d || !ObjectIs(d.value, entry[3]) || d.get !== entry[4] || d.set !== entry[5]) {
      const key = entry[2];
      // Candidates define globals of their own (function f, var escape...): only built-ins count.
      if (entry[0] === 'globalThis' && typeof key === 'string' && apply(RegExpTest, LOWER_NAME, [key])) continue;
      return `${entry[0]}.${String_(key)} was replaced`;
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

function compileTest(src, i, isAsync) {
  // `assert` comes from the harness (a candidate cannot swap it); the test body may still declare its
  // own, and top-level declarations of set-up and candidate are visible (same global scope).
  const wrapped = `(function (require, ${STD_NAMES.join(', ')}) { const assert = require("assert"); ` +
    `return ${isAsync ? 'async ' : ''}function () {\n` + src + '\n}; })';
  return new Script(wrapped, { filename: `test ${i}`, lineOffset: -1 }).runInThisContext()(
    trustedRequire, ...STD_VALUES);
}

const compiled = [];
const isAsync = [];

function main() {
  globalThis.require = trustedRequire;
  globalThis.module = { exports: {} };
  globalThis.exports = globalThis.module.exports;

  send(K_BEGIN, PHASE_SETUP);
  try {
    if (job.setup) new Script(job.setup, { filename: 'setup.js' }).runInThisContext();
  } catch (e) {
    const c = classify(e);
    send(K_END, PHASE_SETUP, R_INFRA, c[1], 'set-up code failed: ' + c[2]);
    finish();
  }
  send(K_END, PHASE_SETUP, R_PASS);

  for (let i = 0; i < nTests; i++) {
    // Tests that await run as async functions; the others stay synchronous (no promise machinery).
    isAsync.push(/\bawait\b/.test(tests[i]));
    try {
      compiled.push(compileTest(tests[i], i, isAsync[i]));
    } catch (e) {
      const c = classify(e);
      compiled.push([c[1], c[2]]);
    }
  }
  SNAP = snapshot();

  send(K_BEGIN, PHASE_CODE);
  let script;
  try {
    script = new Script(job.code, { filename: 'solution.js' });
  } catch (e) {
    const c = classify(e);
    send(K_END, PHASE_CODE, e instanceof SyntaxError_ ? R_SYNTAX : c[0], c[1], c[2]);
    finish();
  }
  try {
    script.runInThisContext();
  } catch (e) {
    const c = classify(e);
    send(K_END, PHASE_CODE, c[0], c[1], c[2]);
    finish();
  }
  if (nTests === 0) {
    // A whole program: let immediate callbacks and settled promise chains run before it counts as done.
    setImmediate_(() => {
      send(K_END, PHASE_CODE, R_PASS);
      finish();
    });
    return;
  }
  send(K_END, PHASE_CODE, R_PASS);
  runFrom(0);
}

function report(i, c) {
  const problem = intact();
  if (problem) {
    send(K_END, i, R_ERROR, 'Tampering', 'candidate modified the test environment: ' + problem);
    finish();
  }
  send(K_END, i, c[0], c[1], c[2]);
}

function runFrom(first) {
  for (let i = first; i < nTests; i++) {
    send(K_BEGIN, i);
    const test = compiled[i];
    if (typeof test !== 'function') {
      send(K_END, i, R_INFRA, 'SyntaxError', 'test does not compile: ' + test[0] + ': ' + test[1]);
      continue;
    }
    const problem = intact();
    if (problem) {
      send(K_END, i, R_ERROR, 'Tampering', 'candidate modified the test environment: ' + problem);
      finish();
    }
    let result;
    try {
      result = test();
    } catch (e) {
      report(i, classify(e));
      continue;
    }
    if (isAsync[i]) {
      // The native `then`, captured before the candidate ran, on the async function's own promise:
      // the verdict follows how the test really settled.
      try {
        apply(PromiseThen, result, [
          () => {
            report(i, [R_PASS, '', '']);
            runFrom(i + 1);
          },
          (e) => {
            report(i, classify(e));
            runFrom(i + 1);
          },
        ]);
      } catch (e) {
        report(i, [R_ERROR, 'Tampering', 'the promise machinery was modified']);
        finish();
      }
      return;
    }
    report(i, [R_PASS, '', '']);
  }
  finish();
}

try {
  main();
} catch (e) {
  reallyExit(70);
}
