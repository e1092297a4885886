// The Mercure hub at /.well-known/mercure (docs/mercure.md), black box: publishing exactly
// as symfony/mercure's Publisher does (a form posted with a Bearer token whose `mercure`
// claim its token factory signs), subscribing as the Twig helper's URLs (?topic=...) with
// the npm `eventsource` client, with the Authorization header as event-source-polyfill
// sends it, and with the mercureAuthorization cookie. Tokens are HS256 and ES256, built
// here with node:crypto.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createSign, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { EventSource } from 'eventsource';
import { startServer, waitUntil, hs256, sleep, launchBrowser } from './support.mjs';

const TEST_TIMEOUT = 30000;
const SECRET = '!ChangeThisMercureHubJWTSecretKey!';
const BOOK = 'https://example.com/books/1';
const OTHER = 'https://example.com/books/2';

/** What symfony/mercure's LcobucciFactory signs: {"mercure": {"publish": [...], ...}}. */
function mercureToken(mercure, { exp, secret = SECRET } = {}) {
    const claims = { mercure };
    if (exp !== undefined) claims.exp = exp;
    return hs256(claims, secret);
}
const PUBLISHER = mercureToken({ publish: ['*'] });

/** A 1.0 access token (RFC 9068: typ at+jwt), HS256 under the hub's secret. */
function accessToken(claims, secret = SECRET) {
    const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
    const input = `${b64({ alg: 'HS256', typ: 'at+jwt' })}.${b64(claims)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** An ES256 JWT under `privateKey` (raw r||s signature, as JOSE wants). */
function es256(claims, privateKey) {
    const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
    const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(claims)}`;
    const sig = createSign('SHA256').update(input).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${sig.toString('base64url')}`;
}

async function startHub(t, extra = []) {
    return startServer(t, ['--mercure', 'true', '--mercure-jwt-secret', SECRET, ...extra]);
}

/**
 * Posts an update as symfony/mercure's Publisher does: http_build_query of topic (one
 * `topic` field per topic), data, private=on when private, id, type, retry; a Bearer token.
 */
async function mercurePublish(server, { topics, data, isPrivate, id, type, retry, token = PUBLISHER,
    contentType = 'application/x-www-form-urlencoded', headers = {} }) {
    const form = new URLSearchParams();
    for (const topic of [].concat(topics)) form.append('topic', topic);
    if (data !== undefined) form.append('data', data);
    if (isPrivate) form.append('private', 'on');
    if (id !== undefined) form.append('id', id);
    if (type !== undefined) form.append('type', type);
    if (retry !== undefined) form.append('retry', String(retry));
    const h = { 'Content-Type': contentType, ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    const res = await fetch(`${server.url}/.well-known/mercure`, { method: 'POST', headers: h, body: form.toString() });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function publishOk(server, update) {
    const r = await mercurePublish(server, update);
    assert.equal(r.status, 200, `publish: ${r.status} ${r.text}`);
    assert.match(r.type, /^text\/plain/);
    // A supplied id is the update's id; without one, the hub's.
    if (update.id) assert.equal(r.text, update.id);
    else assert.match(r.text, /^[0-9a-f]{8}-\d+$/);
    return r.text;
}

/** The Twig helper's URL: mercure('https://...') -> hub?topic=<urlencoded>&topic=... */
function hubUrl(server, topics, extra = '') {
    const q = [].concat(topics).map((topic) => `topic=${encodeURIComponent(topic)}`).join('&');
    return `${server.url}/.well-known/mercure?${q}${extra}`;
}

/** An EventSource recording every message; `headers` are sent on each request (as
 * event-source-polyfill sends Authorization). */
function subscribe(t, url, { headers, types = [] } = {}) {
    const init = headers ? { fetch: (u, i) => fetch(u, { ...i, headers: { ...i.headers, ...headers } }) } : {};
    const es = new EventSource(url, init);
    const got = [];
    let opens = 0;
    let openedBeforeFirst = null;
    for (const type of new Set(['message', ...types])) {
        es.addEventListener(type, (e) => {
            if (openedBeforeFirst === null) openedBeforeFirst = opens > 0;
            got.push({ type: e.type, id: e.lastEventId, data: e.data });
        });
    }
    es.addEventListener('open', () => { opens++; });
    t.after(() => es.close());
    return {
        es, got,
        get openedBeforeFirst() { return openedBeforeFirst; },
        opened: () => waitUntil(() => opens > 0, { timeout: 5000, what: () => `readyState=${es.readyState}` }),
        received: (n) => waitUntil(() => got.length >= n, { timeout: 8000, what: () => JSON.stringify(got) }),
    };
}

/** A raw GET of the hub: resolves with status, headers and a text() of what was read. */
function rawGet(t, url, headers = {}) {
    return new Promise((resolve, reject) => {
        let text = '';
        let ended = false;
        const req = http.get(url, { headers }, (res) => {
            res.setEncoding('utf8');
            res.on('data', (c) => { text += c; });
            res.on('end', () => { ended = true; });
            res.on('error', () => {});
            resolve({ status: res.statusCode, headers: res.headers, text: () => text, ended: () => ended,
                close: () => req.destroy() });
        });
        req.on('error', reject);
        t.after(() => req.destroy());
    });
}

test('a Symfony publish reaches an EventSource subscriber, opened before any update', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t, ['--mercure-anonymous', 'true']);
    const sub = subscribe(t, hubUrl(server, BOOK), { types: ['book.updated'] });
    await sub.opened();
    const id1 = await publishOk(server, { topics: BOOK, data: '{"status":"OutOfStock"}' });
    const id2 = await publishOk(server, { topics: BOOK, data: 'line 1\nline 2', type: 'book.updated' });
    await publishOk(server, { topics: OTHER, data: 'not for this subscriber' });
    await sub.received(2);
    await sleep(200);
    assert.deepEqual(sub.got, [
        { type: 'message', id: id1, data: '{"status":"OutOfStock"}' },
        { type: 'book.updated', id: id2, data: 'line 1\nline 2' },
    ]);
    assert.equal(sub.openedBeforeFirst, true);
    await server.stop();
});

test('several selectors and *; an update with alternates reaches each connection once', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t, ['--mercure-anonymous', 'true']);
    const both = subscribe(t, hubUrl(server, [BOOK, OTHER]));
    const all = subscribe(t, hubUrl(server, '*'));
    await both.opened();
    await all.opened();
    await publishOk(server, { topics: BOOK, data: 'a' });
    await publishOk(server, { topics: OTHER, data: 'b' });
    await publishOk(server, { topics: 'https://example.com/authors/9', data: 'c' });
    await both.received(2);
    await all.received(3);
    await sleep(200);
    assert.deepEqual(both.got.map((e) => e.data), ['a', 'b']);
    assert.deepEqual(all.got.map((e) => e.data), ['a', 'b', 'c']);
    // Canonical plus alternates: a subscriber of the alternate only receives it too, and a
    // connection whose selectors match several of its topics receives it once.
    const canonical = 'https://example.com/canonical';
    const alternate = 'https://example.com/alternate';
    const alt = subscribe(t, hubUrl(server, alternate));
    const bothAlt = subscribe(t, hubUrl(server, [canonical, alternate]));
    const tpl = subscribe(t, hubUrl(server, 'https://example.com/{x}'));
    for (const s of [alt, bothAlt, tpl]) await s.opened();
    const before = all.got.length;
    const id = await publishOk(server, { topics: [canonical, alternate, 'https://example.com/third'], data: 'd' });
    await publishOk(server, { topics: canonical, data: 'e' });
    await alt.received(1);
    await bothAlt.received(2);
    await tpl.received(2);
    await all.received(before + 2);
    await sleep(300);
    assert.deepEqual(alt.got.map((e) => e.data), ['d']);
    assert.deepEqual(bothAlt.got.map((e) => e.data), ['d', 'e']);
    assert.equal(bothAlt.got[0].id, id, 'the copy of the canonical topic, with the id the publisher got');
    assert.deepEqual(tpl.got.map((e) => e.data), ['d', 'e']);
    assert.deepEqual(all.got.slice(before).map((e) => e.data), ['d', 'e']);
    // Replays dedupe too: from before the update it comes once; right after the copy the
    // client got, its other copies are skipped.
    const datas = (r) => r.text().split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    let r = await rawGet(t, hubUrl(server, [canonical, alternate]), { 'Last-Event-ID': both.got[1].id });
    await waitUntil(() => r.text().includes('data: e'));
    assert.deepEqual(datas(r), ['d', 'e']);
    r.close();
    r = await rawGet(t, hubUrl(server, [canonical, alternate]), { 'Last-Event-ID': id });
    await waitUntil(() => r.text().includes('data: e'));
    assert.deepEqual(datas(r), ['e']);
    r.close();
    await server.stop();
});

test('private updates reach only subscribers whose token may read them', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t, ['--mercure-anonymous', 'true']);
    const anon = subscribe(t, hubUrl(server, [BOOK, '*']));
    // event-source-polyfill: the token in the Authorization header.
    const exact = subscribe(t, hubUrl(server, BOOK), {
        headers: { Authorization: `Bearer ${mercureToken({ subscribe: [BOOK] })}` },
    });
    // The mercureAuthorization cookie Symfony sets, with a `*` selector and subscribe ["*"].
    const cookie = subscribe(t, hubUrl(server, '*'), {
        headers: { Cookie: `mercureAuthorization=${mercureToken({ subscribe: ['*'] })}` },
    });
    // The `authorization` query parameter; a grant for another topic only.
    const wrong = subscribe(t, hubUrl(server, '*', `&authorization=${mercureToken({ subscribe: [OTHER] })}`));
    for (const s of [anon, exact, cookie, wrong]) await s.opened();
    await publishOk(server, { topics: BOOK, data: 'secret', isPrivate: true });
    await publishOk(server, { topics: BOOK, data: 'public' });
    await exact.received(2);
    await cookie.received(2);
    await anon.received(1);
    await wrong.received(1);
    await sleep(300);
    assert.deepEqual(exact.got.map((e) => e.data), ['secret', 'public']);
    assert.deepEqual(cookie.got.map((e) => e.data), ['secret', 'public']);
    assert.deepEqual(anon.got.map((e) => e.data), ['public']);
    assert.deepEqual(wrong.got.map((e) => e.data), ['public']);
    await server.stop();
});

test('refused publishes say why and dispatch nothing', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t, ['--mercure-anonymous', 'true', '--max-data', '1k', '--max-body', '4k']);
    const sub = subscribe(t, hubUrl(server, '*'));
    await sub.opened();
    const cases = [
        [{ topics: BOOK, data: 'x', token: null }, 401, /needs a Mercure token/],
        [{ topics: BOOK, data: 'x', token: mercureToken({ publish: ['*'] }, { secret: 'another secret of at least 32 bytes!!' }) }, 401, /bad_signature/],
        [{ topics: BOOK, data: 'x', token: mercureToken({ publish: ['*'] }, { exp: Math.floor(Date.now() / 1000) - 60 }) }, 401, /expired/],
        [{ topics: BOOK, data: 'x', token: mercureToken({ subscribe: ['*'] }) }, 403, /no mercure.publish claim/],
        [{ topics: [BOOK, OTHER], data: 'x', token: mercureToken({ publish: [BOOK] }) }, 403, /may not publish to "https:\/\/example.com\/books\/2"/],
        [{ topics: [], data: 'x' }, 400, /missing "topic"/],
        [{ topics: BOOK, data: 'x', id: '#frag' }, 400, /must not start with '#'/],
        [{ topics: BOOK, data: 'x', id: 'a\nb' }, 400, /line break/],
        [{ topics: BOOK, data: 'x', type: 'a\rb' }, 400, /line break/],
        [{ topics: BOOK, data: 'x', retry: 'soon' }, 400, /retry/],
        [{ topics: `https://example.com/${'x'.repeat(200)}`, data: 'x' }, 400, /at most 175 bytes/],
        [{ topics: BOOK, data: 'x', contentType: 'application/json' }, 415, /x-www-form-urlencoded/],
    ];
    for (const [update, status, message] of cases) {
        const r = await mercurePublish(server, update);
        assert.equal(r.status, status, `${JSON.stringify(update)}: ${r.text}`);
        assert.match(JSON.parse(r.text).error, message);
    }
    // RFC 6750 challenges: none for a missing token, invalid_token, insufficient_scope.
    const res = async (update) => (await fetch(`${server.url}/.well-known/mercure`, {
        method: 'POST', body: `topic=${encodeURIComponent(BOOK)}&data=x`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...update },
    })).headers.get('www-authenticate');
    assert.equal(await res({}), 'Bearer realm="mercure"');
    assert.equal(await res({ Authorization: 'Bearer x.y.z' }), 'Bearer realm="mercure", error="invalid_token"');
    assert.equal(await res({ Authorization: `Bearer ${mercureToken({ publish: [OTHER] })}` }),
        'Bearer realm="mercure", error="insufficient_scope"');
    // Too large: data over max_data, a body over max_body.
    let big = await mercurePublish(server, { topics: BOOK, data: 'x'.repeat(2048) });
    assert.equal(big.status, 413, big.text);
    big = await mercurePublish(server, { topics: BOOK, data: 'x'.repeat(5000) });
    assert.equal(big.status, 413, big.text);
    // With a charset, and a grant for exactly its topic, it goes through.
    await publishOk(server, { topics: BOOK, data: 'ok', token: mercureToken({ publish: [BOOK] }),
        contentType: 'application/x-www-form-urlencoded; charset=utf-8' });
    await sub.received(1);
    await sleep(200);
    assert.deepEqual(sub.got.map((e) => e.data), ['ok']);
    await server.stop();
});

test('subscribers: anonymous refused unless allowed, bad tokens 401, bad templates 400', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t);
    let r = await rawGet(t, hubUrl(server, BOOK));
    assert.equal(r.status, 401);
    assert.match(r.headers['www-authenticate'], /^Bearer/);
    r = await rawGet(t, hubUrl(server, BOOK), { Authorization: 'Bearer not.a.token' });
    assert.equal(r.status, 401);
    r = await rawGet(t, hubUrl(server, 'https://example.com/books/{id'), { Authorization: `Bearer ${mercureToken({ subscribe: [] })}` });
    assert.equal(r.status, 400);
    r = await rawGet(t, `${server.url}/.well-known/mercure`);
    assert.equal(r.status, 400);
    r = await rawGet(t, hubUrl(server, BOOK), { Authorization: `Bearer ${mercureToken({ subscribe: [] })}` });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    await server.stop();
    const off = await startServer(t);
    r = await rawGet(t, hubUrl(off, BOOK));
    assert.equal(r.status, 404);
    await off.stop();
});

test('resume with Last-Event-ID, lastEventID and earliest; the resume header', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t, ['--mercure-anonymous', 'true']);
    const id1 = await publishOk(server, { topics: BOOK, data: 'one' });
    const id2 = await publishOk(server, { topics: BOOK, data: 'two', id: 'urn:uuid:2' });
    const id3 = await publishOk(server, { topics: BOOK, data: 'three' });
    // The same supplied id again is refused, and not delivered.
    const dup = await mercurePublish(server, { topics: BOOK, data: 'two again', id: 'urn:uuid:2' });
    assert.equal(dup.status, 409, dup.text);

    let r = await rawGet(t, hubUrl(server, BOOK), { 'Last-Event-ID': id1 });
    assert.equal(r.status, 200);
    // The resume header names where the stream starts: right after the id asked for.
    assert.equal(r.headers['last-event-id'], id1);
    assert.equal(r.headers['mercure-last-event-id'], id1);
    await waitUntil(() => r.text().includes('data: three'));
    assert.match(r.text(), /^:ok\n\n/);
    assert.ok(!r.text().includes('data: one'));
    assert.ok(r.text().indexOf('data: two') < r.text().indexOf('data: three'));
    r.close();

    // A supplied id is the SSE id, and a resume from it starts right after its update,
    // answered with the id as asked for.
    assert.equal(id2, 'urn:uuid:2');
    r = await rawGet(t, hubUrl(server, BOOK, `&lastEventID=${encodeURIComponent(id2)}`));
    assert.equal(r.headers['last-event-id'], id2);
    await waitUntil(() => r.text().includes('data: three'));
    assert.ok(!r.text().includes('data: two'));
    r.close();
    r = await rawGet(t, hubUrl(server, BOOK, '&lastEventID=earliest'));
    await waitUntil(() => r.text().includes('data: three'));
    assert.ok(r.text().includes('id: urn:uuid:2\ndata: two\n'), r.text());
    r.close();

    r = await rawGet(t, hubUrl(server, BOOK, '&lastEventID=earliest'));
    assert.equal(r.headers['last-event-id'], 'earliest');
    await waitUntil(() => r.text().includes('data: three'));
    assert.ok(r.text().includes('data: one'));
    assert.ok(!r.text().includes('event: resync'));
    r.close();

    // An id this hub never gave (another hub's, a UUID): everything kept, told `earliest`.
    r = await rawGet(t, hubUrl(server, BOOK, '&last_event_id=urn%3Auuid%3Aforeign'));
    assert.equal(r.headers['mercure-last-event-id'], 'earliest');
    await waitUntil(() => r.text().includes('data: three'));
    assert.ok(r.text().includes('data: one'));
    r.close();

    // No cursor asked for: no resume header.
    r = await rawGet(t, hubUrl(server, BOOK));
    assert.equal(r.headers['last-event-id'], undefined);
    r.close();

    // EventSource reconnects with Last-Event-ID by itself: nothing missed, nothing twice.
    const sub = subscribe(t, hubUrl(server, BOOK, `&lastEventID=${id2}`));
    await sub.received(1);
    assert.deepEqual(sub.got.map((e) => e.id), [id3]);
    await server.stop();
});

test('supplied ids: the SSE id, resumable by header, lastEventID and last_event_id; refused when unsafe', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t, ['--mercure-anonymous', 'true']);
    const OTHER = 'https://example.com/books/2';
    // A subscriber that reads both topics gets the supplied ids as lastEventId.
    const live = subscribe(t, hubUrl(server, [BOOK, OTHER]));
    await live.opened();
    await publishOk(server, { topics: BOOK, data: 'a', id: 'urn:uuid:a' });
    await publishOk(server, { topics: [OTHER, BOOK], data: 'b', id: 'https://example.com/rev/b' });
    const idC = await publishOk(server, { topics: BOOK, data: 'c' });
    await publishOk(server, { topics: OTHER, data: 'd', id: 'd-4' });
    await live.received(4);
    assert.deepEqual(live.got.map((e) => [e.id, e.data]),
        [['urn:uuid:a', 'a'], ['https://example.com/rev/b', 'b'], [idC, 'c'], ['d-4', 'd']]);

    // Resume from a supplied id through each spelling: exactly what came after it.
    for (const [extra, headers] of [
        ['', { 'Last-Event-ID': 'urn:uuid:a' }],
        [`&lastEventID=${encodeURIComponent('urn:uuid:a')}`, {}],
        [`&last_event_id=${encodeURIComponent('urn:uuid:a')}`, {}],
    ]) {
        const r = await rawGet(t, hubUrl(server, [BOOK, OTHER], extra), headers);
        assert.equal(r.status, 200);
        assert.equal(r.headers['last-event-id'] ?? r.headers['mercure-last-event-id'], 'urn:uuid:a');
        await waitUntil(() => r.text().includes('data: d'));
        assert.ok(!r.text().includes('data: a'));
        // The update with two topics comes once, with its supplied id.
        assert.equal(r.text().split('data: b\n').length, 2, r.text());
        assert.ok(r.text().includes('id: https://example.com/rev/b\n'), r.text());
        r.close();
    }
    // Pattern selectors find a supplied id among every topic they match.
    for (const sel of ['*', 'https://example.com/books/{id}']) {
        const r = await rawGet(t, hubUrl(server, sel, ''), { 'Last-Event-ID': 'urn:uuid:a' });
        assert.equal(r.headers['last-event-id'], 'urn:uuid:a');
        await waitUntil(() => r.text().includes('data: d'));
        assert.ok(!r.text().includes('data: a'), `${sel}: ${r.text()}`);
        assert.ok(r.text().includes('id: https://example.com/rev/b\n'), `${sel}: ${r.text()}`);
        assert.ok(r.text().includes('id: d-4\n'), `${sel}: ${r.text()}`);
        r.close();
    }
    // An EventSource resumes from the supplied id it last saw, by itself.
    const sub = subscribe(t, hubUrl(server, OTHER, `&lastEventID=${encodeURIComponent('https://example.com/rev/b')}`));
    await sub.received(1);
    assert.deepEqual(sub.got.map((e) => e.id), ['d-4']);
    // The same id on a topic of the update that already has it: 409, nothing delivered.
    const dup = await mercurePublish(server, { topics: OTHER, data: 'again', id: 'd-4' });
    assert.equal(dup.status, 409, dup.text);
    assert.match(dup.text, /already published to this topic and is stored/);
    // Ids that could not come back as a header: refused.
    for (const id of ['has space', 'caf\u00e9', 'tab\there', 'x'.repeat(129)]) {
        const bad = await mercurePublish(server, { topics: BOOK, data: 'bad', id });
        assert.equal(bad.status, 400, `${JSON.stringify(id)}: ${bad.text}`);
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(live.got.length, 4, JSON.stringify(live.got));
    assert.equal(sub.got.length, 1);
    await server.stop();
});

test('a stream ends at its token\'s exp', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t);
    const exp = Math.floor(Date.now() / 1000) + 2;
    const r = await rawGet(t, hubUrl(server, BOOK), { Authorization: `Bearer ${mercureToken({ subscribe: [BOOK] }, { exp })}` });
    assert.equal(r.status, 200);
    await waitUntil(() => r.ended(), { timeout: 6000, what: () => r.text() });
    assert.ok(Date.now() >= (exp - 1) * 1000);
    await server.stop();
});

test('ES256 tokens from a PEM public key', { timeout: TEST_TIMEOUT }, async (t) => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rp-mercure-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pem = path.join(dir, 'mercure.pem');
    writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }));
    const server = await startServer(t, ['--mercure', 'true', '--mercure-jwt-key-file', pem]);
    const sub = subscribe(t, hubUrl(server, BOOK), {
        headers: { Authorization: `Bearer ${es256({ mercure: { subscribe: [BOOK] } }, privateKey)}` },
    });
    await sub.opened();
    await publishOk(server, { topics: BOOK, data: 'private es256', isPrivate: true,
        token: es256({ mercure: { publish: [BOOK] } }, privateKey) });
    await sub.received(1);
    assert.equal(sub.got[0].data, 'private es256');
    // An HS256 token is refused by an ES256-only hub.
    const r = await mercurePublish(server, { topics: BOOK, data: 'x' });
    assert.equal(r.status, 401);
    await server.stop();
});

test('EdDSA (Ed25519) tokens from a PEM public key', { timeout: TEST_TIMEOUT }, async (t) => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const other = generateKeyPairSync('ed25519').privateKey;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rp-mercure-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pem = path.join(dir, 'mercure.pem');
    writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }));
    const eddsa = (claims, key, alg = 'EdDSA') => {
        const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
        const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
        return `${input}.${cryptoSign(null, Buffer.from(input), key).toString('base64url')}`;
    };
    const server = await startServer(t, ['--mercure', 'true', '--mercure-jwt-key-file', pem]);
    const doc = await (await fetch(`${server.url}/.well-known/oauth-protected-resource`)).json();
    assert.ok(doc.resource_signing_alg_values_supported.includes('EdDSA'));
    const sub = subscribe(t, hubUrl(server, BOOK), {
        headers: { Authorization: `Bearer ${eddsa({ mercure: { subscribe: [BOOK] } }, privateKey)}` },
    });
    await sub.opened();
    await publishOk(server, { topics: BOOK, data: 'private eddsa', isPrivate: true,
        token: eddsa({ mercure: { publish: [BOOK] } }, privateKey) });
    await sub.received(1);
    assert.equal(sub.got[0].data, 'private eddsa');
    // Another key's signature, another alg name on the same signature, and HS256: refused.
    for (const token of [eddsa({ mercure: { publish: [BOOK] } }, other),
        eddsa({ mercure: { publish: [BOOK] } }, privateKey, 'ES256'), PUBLISHER]) {
        const r = await mercurePublish(server, { topics: BOOK, data: 'x', token });
        assert.equal(r.status, 401, r.text);
    }
    await server.stop();
});

test('separate subscriber keys: mercure_subscriber_jwt_secret verifies subscribers, mercure_jwt_secret publishers', { timeout: TEST_TIMEOUT }, async (t) => {
    const SUB_SECRET = 'another-secret-for-subscribers-only-32+bytes';
    const server = await startHub(t, ['--mercure-subscriber-jwt-secret', SUB_SECRET,
        '--mercure-subscriptions', 'true']);
    const subToken = mercureToken({ subscribe: [BOOK] }, { secret: SUB_SECRET });
    const sub = subscribe(t, hubUrl(server, BOOK), { headers: { Authorization: `Bearer ${subToken}` } });
    await sub.opened();
    // A subscriber token under the publishers' secret is refused, and so is a publisher
    // token under the subscribers' secret.
    const wrongSub = await fetch(hubUrl(server, BOOK), {
        headers: { Authorization: `Bearer ${mercureToken({ subscribe: [BOOK] })}` } });
    assert.equal(wrongSub.status, 401);
    const wrongPub = await mercurePublish(server, { topics: BOOK, data: 'x',
        token: mercureToken({ publish: ['*'] }, { secret: SUB_SECRET }) });
    assert.equal(wrongPub.status, 401, wrongPub.text);
    await publishOk(server, { topics: BOOK, data: 'private', isPrivate: true });
    await sub.received(1);
    assert.equal(sub.got[0].data, 'private');
    // The subscriptions API is a subscriber's: its keys.
    const api = await fetch(`${server.url}/.well-known/mercure/subscriptions`, {
        headers: { Authorization: `Bearer ${mercureToken({ subscribe: ['*'] }, { secret: SUB_SECRET })}` } });
    assert.equal(api.status, 200);
    await server.stop();
});

test('Chromium: EventSource withCredentials sends the mercureAuthorization cookie', { timeout: 60000 }, async (t) => {
    // The page is served by another origin on loopback; the hub allows it with credentials.
    const page = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<!doctype html><title>app</title>');
    });
    await new Promise((resolve) => page.listen(0, '127.0.0.1', resolve));
    t.after(() => page.close());
    const origin = `http://127.0.0.1:${page.address().port}`;
    const hub = await startHub(t, ['--cors-origins', origin, '--cors-credentials', 'true']);
    const browser = await launchBrowser();
    t.after(() => browser.close());
    const context = await browser.newContext();
    await context.addCookies([{ name: 'mercureAuthorization', value: mercureToken({ subscribe: [BOOK] }),
        url: hub.url, httpOnly: true, sameSite: 'Lax' }]);
    const tab = await context.newPage();
    await tab.goto(origin);
    await tab.evaluate((url) => {
        window.got = [];
        window.opened = false;
        const es = new EventSource(url, { withCredentials: true });
        es.onopen = () => { window.opened = true; };
        es.onmessage = (e) => window.got.push(e.data);
    }, hubUrl(hub, BOOK));
    await waitUntil(() => tab.evaluate(() => window.opened), { timeout: 10000 });
    await publishOk(hub, { topics: BOOK, data: 'for the browser', isPrivate: true });
    await waitUntil(async () => (await tab.evaluate(() => window.got)).length > 0, { timeout: 10000 });
    assert.deepEqual(await tab.evaluate(() => window.got), ['for the browser']);
    // A cross-origin client that resumes may read the resume headers.
    const r = await rawGet(t, hubUrl(hub, BOOK, '&lastEventID=earliest'), {
        Origin: origin, Cookie: `mercureAuthorization=${mercureToken({ subscribe: [BOOK] })}` });
    assert.equal(r.headers['access-control-allow-origin'], origin);
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.match(r.headers['access-control-expose-headers'], /Mercure-Last-Event-ID/);
    r.close();
    await hub.stop();
});

test('URI templates in tokens: publish and private grants', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t);
    const books = 'https://example.com/books/{id}';
    const sub = subscribe(t, hubUrl(server, BOOK), {
        headers: { Authorization: `Bearer ${mercureToken({ subscribe: [books] })}` },
    });
    await sub.opened();
    const publisher = mercureToken({ publish: [books] });
    const refused = await mercurePublish(server, { topics: 'https://example.com/authors/1', data: 'x', token: publisher });
    assert.equal(refused.status, 403);
    const nested = await mercurePublish(server, { topics: `${BOOK}/reviews`, data: 'x', token: publisher });
    assert.equal(nested.status, 403);
    await publishOk(server, { topics: BOOK, data: 'private via template', isPrivate: true, token: publisher });
    await sub.received(1);
    assert.equal(sub.got[0].data, 'private via template');
    await server.stop();
});

test('protocol 1.0 spellings: match, matchExact, access_token, the 1.0 cookie; unknown matchers refused', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t);
    const token = mercureToken({ subscribe: [BOOK] });
    const viaMatch = subscribe(t, `${server.url}/.well-known/mercure?match=${encodeURIComponent(BOOK)}&access_token=${token}`);
    const viaExact = subscribe(t, `${server.url}/.well-known/mercure?matchExact=*`, {
        headers: { Cookie: `mercureAccessToken=${mercureToken({ subscribe: ['*'] })}` },
    });
    const viaSecure = subscribe(t, `${server.url}/.well-known/mercure?match=${encodeURIComponent(BOOK)}`, {
        headers: { Cookie: `__Secure-mercure_access_token=${token}` },
    });
    for (const s of [viaMatch, viaExact, viaSecure]) await s.opened();
    await publishOk(server, { topics: BOOK, data: 'p', isPrivate: true });
    for (const s of [viaMatch, viaExact, viaSecure]) await s.received(1);
    for (const s of [viaMatch, viaExact, viaSecure]) assert.equal(s.got[0].data, 'p');
    // A 1.0 access token: authorization_details entries of type mercure grant the actions.
    const details = (actions, match) => accessToken({ authorization_details: [
        { type: 'mercure', actions, topics: [{ match, matchType: 'Exact' }] }] });
    const sub10 = subscribe(t, `${server.url}/.well-known/mercure?match=${encodeURIComponent(OTHER)}`, {
        headers: { Authorization: `Bearer ${details(['subscribe'], OTHER)}` },
    });
    await sub10.opened();
    const refused = await mercurePublish(server, { topics: BOOK, data: 'x', token: details(['publish'], OTHER) });
    assert.equal(refused.status, 403);
    await publishOk(server, { topics: OTHER, data: 'p10', isPrivate: true, token: details(['publish'], OTHER) });
    await sub10.received(1);
    assert.equal(sub10.got[0].data, 'p10');
    const malformed = await mercurePublish(server, { topics: OTHER, data: 'x',
        token: accessToken({ authorization_details: [{ type: 'mercure', actions: ['delete'], topics: [{ match: '*' }] }] }) });
    assert.equal(malformed.status, 401);
    // authorization_details in a token that is not an access token (typ JWT) grant nothing.
    const notAccess = await mercurePublish(server, { topics: OTHER, data: 'x',
        token: hs256({ authorization_details: [{ type: 'mercure', actions: ['publish'], topics: [{ match: '*' }] }] }, SECRET) });
    assert.equal(notAccess.status, 401);
    const auth = { Authorization: `Bearer ${token}` };
    for (const [query, message] of [
        [`matchURLPattern=${encodeURIComponent('https://example.com/books/(\\d+)')}`, /regular-expression groups/],
        [`matchURLPattern=${encodeURIComponent('example.com/books/:id')}`, /absolute URL pattern/],
        ['matchRegex=.*', /unknown matcher type/],
        ['MATCH=x', /unknown matcher type/],
        [`match=${encodeURIComponent('https://example.com/a\u0085b')}`, /control characters/],
        ['match=a%01b', /control characters/],
        ['lastEventID=x', /missing "topic" or "match"/],
    ]) {
        const r = await fetch(`${server.url}/.well-known/mercure?${query}`, { headers: auth });
        assert.equal(r.status, 400, query);
        assert.match((await r.json()).error, message, query);
    }
    await server.stop();
});

test('URL-pattern selectors and grants: matchURLPattern, authorization_details of matchType URLPattern', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t, ['--mercure-anonymous', 'true']);
    const pattern = 'https://example.com/books/:id';
    const grant = (actions, match) => accessToken({ authorization_details: [
        { type: 'mercure', actions, topics: [{ match, matchType: 'URLPattern' }] }] });
    const byPattern = (p) => `${server.url}/.well-known/mercure?matchURLPattern=${encodeURIComponent(p)}`;
    const anon = subscribe(t, byPattern(pattern));
    const granted = subscribe(t, byPattern('https://example.com/books/*'), {
        headers: { Authorization: `Bearer ${grant(['subscribe'], pattern)}` },
    });
    const all = subscribe(t, `${server.url}/.well-known/mercure?match=*`, {
        headers: { Authorization: `Bearer ${grant(['subscribe'], pattern)}` },
    });
    for (const s of [anon, granted, all]) await s.opened();
    // A publisher may publish to what its pattern matches, and only there.
    const publisher = grant(['publish'], 'https://example.com/books/*');
    const refused = await mercurePublish(server, { topics: 'https://example.com/authors/1', data: 'x', token: publisher });
    assert.equal(refused.status, 403, refused.text);
    await publishOk(server, { topics: BOOK, data: 'b1', token: publisher });
    await publishOk(server, { topics: 'https://example.com/books/2/reviews', data: 'review', token: publisher });
    await publishOk(server, { topics: 'https://example.com/books/3', data: 'p3', isPrivate: true, token: publisher });
    // Private, and not covered by the subscribers' grant (`:id` is one segment).
    await publishOk(server, { topics: 'https://example.com/books/4/reviews', data: 'p4r', isPrivate: true, token: publisher });
    await publishOk(server, { topics: 'https://example.com/authors/1', data: 'author' });
    await publishOk(server, { topics: 'https://example.com/books/5?page=2', data: 'last' });
    await anon.received(2);
    await granted.received(4);
    await all.received(5);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(anon.got.map((e) => e.data), ['b1', 'last']);
    assert.deepEqual(granted.got.map((e) => e.data), ['b1', 'review', 'p3', 'last']);
    assert.deepEqual(all.got.map((e) => e.data), ['b1', 'review', 'p3', 'author', 'last']);
    // A resume through a URL-pattern selector, from a hub id and from a supplied id.
    await publishOk(server, { topics: 'https://example.com/books/6', data: 'six', id: 'urn:uuid:six' });
    await publishOk(server, { topics: 'https://example.com/books/7', data: 'seven' });
    const r = await rawGet(t, byPattern(pattern), { 'Last-Event-ID': 'urn:uuid:six' });
    assert.equal(r.headers['last-event-id'] ?? r.headers['mercure-last-event-id'], 'urn:uuid:six');
    await waitUntil(() => r.text().includes('data: seven'));
    assert.ok(!r.text().includes('data: six'), r.text());
    r.close();
    await server.stop();
});

test('active subscriptions: private subscription updates and the subscriptions API, behind mercure_subscriptions', { timeout: TEST_TIMEOUT }, async (t) => {
    const off = await startHub(t);
    const none = await fetch(`${off.url}/.well-known/mercure/subscriptions`,
        { headers: { Authorization: `Bearer ${mercureToken({ subscribe: ['*'] })}` } });
    assert.equal(none.status, 404);
    assert.match((await none.json()).error, /mercure_subscriptions/);
    await off.stop();

    const server = await startHub(t, ['--mercure-subscriptions', 'true']);
    const watched = '/.well-known/mercure/subscriptions/{topic}/{subscriber}';
    const observerToken = mercureToken({ subscribe: [watched] });
    const observer = subscribe(t, hubUrl(server, watched), {
        headers: { Authorization: `Bearer ${observerToken}` },
    });
    await observer.opened();
    await observer.received(1); // its own subscription
    // A `*` reader whose grant does not cover the subscription topics.
    const bystander = subscribe(t, hubUrl(server, '*'), {
        headers: { Authorization: `Bearer ${mercureToken({ subscribe: [BOOK] })}` },
    });
    await bystander.opened();
    await observer.received(2);
    const own = JSON.parse(observer.got[0].data);
    assert.equal(own.topic, watched);
    // A subscriber connects: one private update per selector, with its token's payload.
    const reader = await rawGet(t, hubUrl(server, BOOK), {
        Authorization: `Bearer ${mercureToken({ subscribe: [BOOK], payload: { user: 'alice' } })}`,
    });
    assert.equal(reader.status, 200);
    await observer.received(3);
    const on = JSON.parse(observer.got[2].data);
    assert.equal(on['@context'], 'https://mercure.rocks/');
    assert.equal(on.type, 'Subscription');
    assert.equal(on.topic, BOOK);
    assert.match(on.subscriber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(on.active, true);
    assert.deepEqual(on.payload, { user: 'alice' });
    const iri = `/.well-known/mercure/subscriptions/${encodeURIComponent(BOOK)}/${encodeURIComponent(on.subscriber)}`;
    assert.equal(on.id, iri);
    assert.notEqual(on.subscriber, own.subscriber);

    // The API: every subscription the token may see, by topic, and one.
    const get = async (path, token = observerToken) => {
        const r = await fetch(`${server.url}${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
        return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
    };
    let r = await get('/.well-known/mercure/subscriptions');
    assert.equal(r.status, 200);
    assert.match(r.type, /^application\/ld\+json/);
    assert.equal(r.body.type, 'Subscriptions');
    assert.equal(r.body.id, '/.well-known/mercure/subscriptions');
    assert.match(r.body.lastEventID, /^[0-9a-f]{8}-\d+$/);
    assert.deepEqual(r.body.subscriptions.map((x) => x.topic).sort(), ['*', BOOK, watched].sort());
    assert.deepEqual(r.body.subscriptions.find((x) => x.topic === BOOK),
        { id: iri, type: 'Subscription', topic: BOOK, subscriber: on.subscriber, active: true, payload: { user: 'alice' } });
    r = await get(`/.well-known/mercure/subscriptions/${encodeURIComponent(BOOK)}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.subscriptions.map((x) => x.subscriber), [on.subscriber]);
    r = await get(iri);
    assert.equal(r.status, 200);
    assert.equal(r.body.id, iri);
    assert.equal(r.body.subscriber, on.subscriber);
    assert.ok(r.body.lastEventID);
    // A token must be presented, and it only sees what its subscribe grant covers.
    assert.equal((await get('/.well-known/mercure/subscriptions', null)).status, 401);
    r = await get('/.well-known/mercure/subscriptions', mercureToken({ subscribe: [BOOK] }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.subscriptions, []);
    assert.equal((await get(iri, mercureToken({ subscribe: [BOOK] }))).status, 404);
    // The subscriber leaves: active false, and the API no longer lists it.
    reader.close();
    await observer.received(4);
    const gone = JSON.parse(observer.got[3].data);
    assert.equal(gone.subscriber, on.subscriber);
    assert.equal(gone.active, false);
    assert.equal(gone.id, iri);
    r = await get(`/.well-known/mercure/subscriptions/${encodeURIComponent(BOOK)}`);
    assert.deepEqual(r.body.subscriptions, []);
    assert.equal((await get(iri)).status, 404);
    // Nobody else received the subscription updates: they are private.
    assert.deepEqual(bystander.got, []);
    await server.stop();
});

test('URI-template selectors: matched once per topic, public and private, resumable', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startHub(t, ['--mercure-anonymous', 'true']);
    const books = 'https://example.com/books/{id}';
    // Published before the subscription: a topic that exists already is matched at open.
    const id0 = await publishOk(server, { topics: BOOK, data: 'before' });
    const anon = subscribe(t, hubUrl(server, books));
    const granted = subscribe(t, hubUrl(server, [books, 'https://example.com/other']), {
        headers: { Authorization: `Bearer ${mercureToken({ subscribe: [books] })}` },
    });
    await anon.opened();
    await granted.opened();
    await publishOk(server, { topics: BOOK, data: 'b1' });
    await publishOk(server, { topics: 'https://example.com/books/77', data: 'b77 new topic' });
    await publishOk(server, { topics: `${BOOK}/reviews`, data: 'not matched' });
    await publishOk(server, { topics: 'https://example.com/authors/1', data: 'not matched' });
    await publishOk(server, { topics: 'https://example.com/books/9', data: 'private b9', isPrivate: true });
    await publishOk(server, { topics: 'https://example.com/other', data: 'other' });
    await anon.received(2);
    await granted.received(4);
    await sleep(300);
    assert.deepEqual(anon.got.map((e) => e.data), ['b1', 'b77 new topic']);
    assert.deepEqual(granted.got.map((e) => e.data), ['b1', 'b77 new topic', 'private b9', 'other']);
    // A resume through a template replays from the log, in order.
    const r = await rawGet(t, hubUrl(server, books), { 'Last-Event-ID': id0 });
    await waitUntil(() => r.text().includes('data: b77 new topic'));
    const datas = r.text().split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    assert.deepEqual(datas, ['b1', 'b77 new topic']);
    r.close();
    await server.stop();
});

test('mercure_protocol restricts the endpoint to one version', { timeout: TEST_TIMEOUT }, async (t) => {
    const v0 = await startHub(t, ['--mercure-anonymous', 'true', '--mercure-protocol', '0.x']);
    let r = await fetch(`${v0.url}/.well-known/mercure?match=${encodeURIComponent(BOOK)}`);
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /0\.x only/);
    const id = await publishOk(v0, { topics: [BOOK, OTHER], data: 'two topics are fine in 0.x' });
    let s = await rawGet(t, hubUrl(v0, BOOK), { 'Last-Event-ID': id });
    assert.equal(s.headers['last-event-id'], id);
    assert.equal(s.headers['mercure-last-event-id'], undefined);
    s.close();
    // A 1.0 token source is not looked at: the 1.0 cookie does not authenticate.
    const priv = subscribe(t, hubUrl(v0, BOOK), {
        headers: { Cookie: `mercureAccessToken=${mercureToken({ subscribe: [BOOK] })}` },
    });
    await priv.opened();
    await publishOk(v0, { topics: BOOK, data: 'secret', isPrivate: true });
    await publishOk(v0, { topics: BOOK, data: 'public' });
    await priv.received(1);
    await sleep(200);
    assert.deepEqual(priv.got.map((e) => e.data), ['public']);
    await v0.stop();

    const v1 = await startHub(t, ['--mercure-anonymous', 'true', '--mercure-protocol', '1.0']);
    r = await fetch(hubUrl(v1, BOOK));
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /1\.0 only/);
    const two = await mercurePublish(v1, { topics: [BOOK, OTHER], data: 'x' });
    assert.equal(two.status, 400);
    const id1 = await publishOk(v1, { topics: BOOK, data: 'one topic' });
    s = await rawGet(t, `${v1.url}/.well-known/mercure?match=${encodeURIComponent(BOOK)}&last_event_id=${id1}`);
    assert.equal(s.headers['mercure-last-event-id'], id1);
    assert.equal(s.headers['last-event-id'], undefined);
    s.close();
    await v1.stop();
});

test('1.0: the protected-resource metadata document, and aud checked against mercure_resource', { timeout: TEST_TIMEOUT }, async (t) => {
    const resource = 'https://hub.example/.well-known/mercure';
    const server = await startHub(t, ['--mercure-resource', resource]);
    for (const path of ['/.well-known/oauth-protected-resource/.well-known/mercure', '/.well-known/oauth-protected-resource']) {
        const r = await fetch(`${server.url}${path}`);
        assert.equal(r.status, 200, path);
        const doc = await r.json();
        assert.equal(doc.resource, resource);
        assert.deepEqual(doc.bearer_methods_supported, ['header', 'query']);
    }
    assert.equal((await fetch(`${server.url}/.well-known/oauth-protected-resource/other`)).status, 404);
    const details = (aud) => accessToken({ aud, authorization_details: [
        { type: 'mercure', actions: ['publish'], topics: [{ match: '*' }] }] });
    assert.equal((await mercurePublish(server, { topics: BOOK, data: 'x', token: details('https://other.example/') })).status, 401);
    await publishOk(server, { topics: BOOK, data: 'x', token: details([resource, 'https://other.example/']) });
    // 0.x tokens carry no audience and are not asked for one.
    await publishOk(server, { topics: BOOK, data: 'y' });
    await server.stop();
    const derived = await startHub(t);
    const doc = await (await fetch(`${derived.url}/.well-known/oauth-protected-resource`)).json();
    assert.equal(doc.resource, `http://127.0.0.1:${derived.port}/.well-known/mercure`);
    assert.equal(doc.authorization_servers, undefined);
    await derived.stop();
});

test('mercure_issuers: tokens must name an accepted iss, listed as authorization_servers', { timeout: TEST_TIMEOUT }, async (t) => {
    const issuers = ['https://auth.example', 'https://sso.example/realms/app'];
    const server = await startHub(t, ['--mercure-issuers', issuers.join(', '), '--mercure-anonymous', 'true']);
    const doc = await (await fetch(`${server.url}/.well-known/oauth-protected-resource`)).json();
    assert.deepEqual(doc.authorization_servers, issuers);
    const withIss = (iss) => hs256({ ...(iss ? { iss } : {}), mercure: { publish: ['*'] } }, SECRET);
    for (const token of [withIss(null), withIss('https://evil.example'), withIss('https://auth.example/')]) {
        const r = await mercurePublish(server, { topics: BOOK, data: 'refused', token });
        assert.equal(r.status, 401, r.text);
        assert.match(r.text, /bad_issuer/);
    }
    // An access token (1.0) is checked the same way, and a subscriber's token too.
    const at = (iss) => accessToken({ iss, authorization_details: [
        { type: 'mercure', actions: ['subscribe'], topics: [{ match: '*' }] }] });
    const denied = await fetch(hubUrl(server, BOOK), { headers: { Authorization: `Bearer ${at('https://evil.example')}` } });
    assert.equal(denied.status, 401);
    const sub = subscribe(t, hubUrl(server, BOOK), { headers: { Authorization: `Bearer ${at(issuers[1])}` } });
    await sub.opened();
    await publishOk(server, { topics: BOOK, data: 'ok', isPrivate: true, token: withIss(issuers[0]) });
    await sub.received(1);
    assert.equal(sub.got[0].data, 'ok');
    await server.stop();
});
