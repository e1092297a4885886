// Shared helpers for the end-to-end tests: start and stop a real revenprox server, publish
// to it over HTTP, and a cuttable TCP proxy to drop client connections without restarting
// the server (a restart would change the epoch, which is a different scenario).
//
// Everything here talks to 127.0.0.0/8 only.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Path of the server binary: $REVENPROX_BIN, else ../../build/src/cli/revenprox. */
export function serverBinary() {
    const fromEnv = process.env.REVENPROX_BIN;
    const bin = fromEnv ? path.resolve(fromEnv) : path.resolve(here, '../../build/src/cli/revenprox');
    if (!existsSync(bin)) {
        throw new Error(`revenprox binary not found at ${bin} (build it, or set REVENPROX_BIN)`);
    }
    return bin;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` (sync or async) until it returns a truthy value, or throws after
 * `timeout` ms with `what()` describing the state seen last.
 */
export async function waitUntil(check, { timeout = 5000, interval = 20, what = () => '' } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
        const value = await check();
        if (value) return value;
        if (Date.now() > deadline) {
            const detail = what();
            throw new Error(`timed out after ${timeout} ms${detail ? `: ${detail}` : ''}`);
        }
        await sleep(interval);
    }
}

/** A fresh temporary directory for a server's disk log (the caller removes it). */
export function tempDataDir() {
    return mkdtempSync(path.join(os.tmpdir(), 'rp-e2e-data-'));
}

/**
 * Starts `revenprox serve --listen 127.0.0.1:0 --workers 2 --data-dir DIR ...extraArgs` and
 * resolves once its stderr says `msg="listening" addr=127.0.0.1:PORT`.
 *
 * The disk log goes to `dataDir` when given (the caller's: kept, so another server can
 * start on it), else to a temporary directory of this server's own, removed when it exits:
 * tests never share one (a second process on a data_dir is refused).
 *
 * If a node:test context `t` is given, the process is SIGKILLed after the test if the test
 * did not stop it itself (so a failing test never leaks a server).
 */
export async function startServer(t, extraArgs = [], { timeout = 10000, dataDir = null } = {}) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        // Settings may come from REVENPROX_* variables: keep the tests independent of them.
        if (!k.startsWith('REVENPROX_')) env[k] = v;
    }
    const ownDataDir = dataDir ? null : tempDataDir();
    const args = ['serve', '--listen', '127.0.0.1:0', '--workers', '2',
        '--data-dir', dataDir || ownDataDir, ...extraArgs];
    const child = spawn(serverBinary(), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });

    let stderr = '';
    let exited = null;
    const exitPromise = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            exited = { code, signal };
            if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
            resolve(exited);
        });
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
        stderr += chunk;
    });

    const server = {
        child,
        args,
        port: 0,
        url: '',
        get stderr() {
            return stderr;
        },
        get exited() {
            return exited;
        },
        /** SIGTERM, wait for the exit and check it was clean (exit status 0, no error log). */
        async stop({ timeout: stopTimeout = 8000 } = {}) {
            if (!exited) child.kill('SIGTERM');
            let timer;
            const result = await Promise.race([
                exitPromise,
                new Promise((resolve) => { timer = setTimeout(() => resolve(null), stopTimeout); }),
            ]);
            clearTimeout(timer);
            if (!result) {
                child.kill('SIGKILL');
                await exitPromise;
                assert.fail(`revenprox did not exit within ${stopTimeout} ms of SIGTERM\n${stderr}`);
            }
            assert.deepEqual(result, { code: 0, signal: null },
                `revenprox should exit 0 on SIGTERM; stderr:\n${stderr}`);
            const errors = stderr.split('\n').filter((l) => /\blevel=error\b/.test(l));
            assert.deepEqual(errors, [], 'revenprox logged errors');
            return result;
        },
        kill() {
            if (!exited) child.kill('SIGKILL');
            return exitPromise;
        },
    };
    if (t) t.after(() => server.kill());

    try {
        await waitUntil(() => exited || /msg="listening" addr=127\.0\.0\.1:(\d+)/.exec(stderr), {
            timeout,
            what: () => `no listening line; stderr:\n${stderr}`,
        });
    } catch (err) {
        await server.kill();
        throw err;
    }
    if (exited) {
        throw new Error(`revenprox exited early (${JSON.stringify(exited)}); stderr:\n${stderr}`);
    }
    server.port = Number(/msg="listening" addr=127\.0\.0\.1:(\d+)/.exec(stderr)[1]);
    server.url = `http://127.0.0.1:${server.port}`;
    return server;
}

/** Encodes a topic for a URL path, keeping its `/` separators. */
export function topicPath(topic) {
    return topic.split('/').map(encodeURIComponent).join('/');
}

/**
 * POST /publish/{topic}[?event=type] with a raw body (and extra request `headers`, such as
 * Authorization); returns the parsed JSON answer.
 */
export async function publish(server, topic, data, { event, headers = {} } = {}) {
    const query = event !== undefined ? `?event=${encodeURIComponent(event)}` : '';
    const res = await fetch(`${server.url}/publish/${topicPath(topic)}${query}`, {
        method: 'POST',
        headers,
        body: Buffer.from(data, 'utf8'),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `publish to ${topic} failed: ${res.status} ${text}`);
    const body = JSON.parse(text);
    assert.equal(body.topic, topic);
    assert.equal(body.duplicate, false);
    assert.match(body.id, /^[0-9a-f]{8}-\d+$/);
    return body;
}

/**
 * POST /publish with a JSON object ({topic, data, event?}) or an array of them; returns the
 * parsed JSON answer ({id,...} or {ids, duplicates}).
 */
export async function publishJson(server, payload) {
    const res = await fetch(`${server.url}/publish`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(payload),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `JSON publish failed: ${res.status} ${text}`);
    const body = JSON.parse(text);
    if (Array.isArray(payload)) {
        assert.equal(body.ids.length, payload.length, `batch answer: ${text}`);
        assert.deepEqual(body.duplicates, []);
    }
    return body;
}

/**
 * A TCP proxy on 127.0.0.1 in front of the server. `cut()` destroys every open connection
 * (both sides) at once and, until `restore()`, holds new connections unanswered (or, with
 * `{refuse: true}`, resets them at once, so the client sees connection errors and retries).
 * It records the request head of each connection it forwards.
 */
export class TcpProxy {
    constructor(targetPort, targetHost = '127.0.0.1') {
        this.targetPort = targetPort;
        this.targetHost = targetHost;
        this.sockets = new Set();
        this.pending = [];
        this.down = false;
        this.refuse = false;
        this.accepted = 0; // connections accepted
        this.refused = 0; // connections reset while down with refuse
        this.requests = []; // request heads (strings) seen on forwarded connections
        this.server = net.createServer((client) => this.#onConnection(client));
    }

    listen() {
        return new Promise((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(0, '127.0.0.1', () => {
                this.port = this.server.address().port;
                this.url = `http://127.0.0.1:${this.port}`;
                resolve(this);
            });
        });
    }

    #onConnection(client) {
        this.accepted++;
        client.on('error', () => {});
        if (this.down) {
            if (this.refuse) {
                this.refused++;
                client.resetAndDestroy();
                return;
            }
            client.pause();
            this.pending.push(client);
            client.on('close', () => {
                this.pending = this.pending.filter((c) => c !== client);
            });
            return;
        }
        this.#forward(client);
    }

    #forward(client) {
        const upstream = net.connect(this.targetPort, this.targetHost);
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        this.sockets.add(client);
        this.sockets.add(upstream);
        const forget = () => {
            this.sockets.delete(client);
            this.sockets.delete(upstream);
        };
        client.on('close', () => {
            forget();
            upstream.destroy();
        });
        upstream.on('close', () => {
            forget();
            client.destroy();
        });
        let head = '';
        let headDone = false;
        client.on('data', (chunk) => {
            if (headDone) return;
            head += chunk.toString('latin1');
            const end = head.indexOf('\r\n\r\n');
            if (end >= 0 || head.length > 65536) {
                headDone = true;
                this.requests.push(end >= 0 ? head.slice(0, end) : head);
            }
        });
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
    }

    /** Drops every open connection abruptly (TCP reset) and stops forwarding new ones. */
    cut({ refuse = false } = {}) {
        this.down = true;
        this.refuse = refuse;
        for (const s of this.sockets) s.resetAndDestroy();
        this.sockets.clear();
    }

    /** Forwards again, including the connections held while down. */
    restore() {
        this.down = false;
        this.refuse = false;
        const held = this.pending;
        this.pending = [];
        for (const client of held) {
            if (!client.destroyed) this.#forward(client);
        }
    }

    /** Request heads whose request line starts with `method` (e.g. 'GET'). */
    requestsOf(method) {
        return this.requests.filter((h) => h.startsWith(`${method} `));
    }

    close() {
        for (const s of this.sockets) s.destroy();
        for (const s of this.pending) s.destroy();
        this.sockets.clear();
        this.pending = [];
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}

/** Value of header `name` in a raw request head, or undefined. */
export function headerOf(head, name) {
    const re = new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*$`, 'im');
    const m = re.exec(head);
    return m ? m[1] : undefined;
}

/** Starts a TcpProxy in front of `server`; closes it after the test `t`. */
export async function startProxy(t, server) {
    const proxy = await new TcpProxy(server.port).listen();
    if (t) t.after(() => proxy.close());
    return proxy;
}

/**
 * An HS256 JWT of `claims` under `secret`, made with node:crypto (independently of the
 * server's implementation).
 */
export function hs256(claims, secret) {
    const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    const sig = createHmac('sha256', secret).update(input).digest('base64url');
    return `${input}.${sig}`;
}

/**
 * Opens a raw event stream GET `path` (e.g. `/events/news`) on `server` with node:http and
 * resolves once the response head arrived (rejects on a status other than 200). `text()`
 * is everything read so far, `close()` ends the stream; closed after the test `t` anyway.
 */
export function openStream(t, server, path, { headers = {} } = {}) {
    return new Promise((resolve, reject) => {
        let text = '';
        const req = http.get(`${server.url}${path}`, { headers }, (res) => {
            if (res.statusCode !== 200) {
                res.resume();
                reject(new Error(`stream ${path}: status ${res.statusCode}`));
                return;
            }
            res.setEncoding('utf8');
            res.on('data', (chunk) => { text += chunk; });
            res.on('error', () => {});
            resolve({ text: () => text, close: () => req.destroy() });
        });
        req.on('error', reject);
        if (t) t.after(() => req.destroy());
    });
}

/** Headless Debian Chromium ($CHROMIUM_PATH, default /usr/bin/chromium) for the browser tests. */
export function launchBrowser() {
    return chromium.launch({
        executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        timeout: 15000,
    });
}
