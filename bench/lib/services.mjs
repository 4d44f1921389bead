// The two services of bench/real-service.mjs, written into the bench
// workspace: small but real, so that the builders do what a CI job does.
//   go:   an HTTP service (chi router, google/uuid, fetched through the Go
//         proxy) built by Debian's golang-go in a builder stage on the
//         bookworm base, shipped in a slim runtime stage.
//   node: an express app whose dependencies `npm ci` installs (Debian's
//         nodejs and npm) in a deps stage, copied into a runtime stage
//         that has nodejs only.
// Both build with --network host: apt-get reaches Debian's mirror, go and
// npm their registries, through the host's network (and its TLS proxy,
// whose CA the bookworm base carries). Each has a -selftest mode the
// benchmark runs once in the built image, so a "fast" build that produced
// a broken image cannot pass unnoticed.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../scripts/lib/proc.mjs';
import { FIXTURES } from './bookworm.mjs';

const GO_MOD = `module example.com/quotes

go 1.19

require (
\tgithub.com/go-chi/chi/v5 v5.0.12
\tgithub.com/google/uuid v1.6.0
)
`;

// The hashes the Go checksum database holds for these versions: go verifies them, no sumdb lookup needed.
const GO_SUM = `github.com/go-chi/chi/v5 v5.0.12 h1:9euLV5sTrTNTRUU9POmDUvfxyj6LAABLUcEWO+JJb4s=
github.com/go-chi/chi/v5 v5.0.12/go.mod h1:DslCQbL2OYiznFReuXYUmQ2hGd1aDpCnlMNITLSKoi8=
github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=
github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=
`;

const GO_MAIN = `package main

import (
\t"flag"
\t"fmt"
\t"log"
\t"net/http"
\t"net/http/httptest"
\t"os"

\t"example.com/quotes/internal/quotes"
\t"github.com/go-chi/chi/v5"
)

func router() http.Handler {
\tr := chi.NewRouter()
\tr.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
\tr.Get("/quotes/{n}", quotes.Handler)
\treturn r
}

func main() {
\tselftest := flag.Bool("selftest", false, "serve one request in-process and exit")
\taddr := flag.String("addr", ":8080", "listen address")
\tflag.Parse()
\tif *selftest {
\t\trec := httptest.NewRecorder()
\t\trouter().ServeHTTP(rec, httptest.NewRequest("GET", "/quotes/2", nil))
\t\tif rec.Code != 200 {
\t\t\tfmt.Fprintln(os.Stderr, "selftest: status", rec.Code)
\t\t\tos.Exit(1)
\t\t}
\t\tfmt.Print("selftest ok: ", rec.Body.String())
\t\treturn
\t}
\tlog.Fatal(http.ListenAndServe(*addr, router()))
}
`;

/** The file the one-file-changed mode edits (its `version` string). */
export const GO_EDITED = 'internal/quotes/quotes.go';

export function goQuotes(version) {
  return `package quotes

import (
\t"encoding/json"
\t"net/http"
\t"strconv"

\t"github.com/go-chi/chi/v5"
\t"github.com/google/uuid"
)

// Version changes in the benchmark's one-file-changed mode.
const Version = ${JSON.stringify(version)}

var all = []string{"Simplicity is prerequisite for reliability.", "Make it work, make it right, make it fast.", "Premature optimisation is the root of all evil."}

type reply struct {
\tID      string   \`json:"id"\`
\tVersion string   \`json:"version"\`
\tQuotes  []string \`json:"quotes"\`
}

// Handler returns the first n quotes, each reply with a fresh request id.
func Handler(w http.ResponseWriter, r *http.Request) {
\tn, err := strconv.Atoi(chi.URLParam(r, "n"))
\tif err != nil || n < 0 || n > len(all) {
\t\thttp.Error(w, "bad n", http.StatusBadRequest)
\t\treturn
\t}
\tw.Header().Set("Content-Type", "application/json")
\t_ = json.NewEncoder(w).Encode(reply{ID: uuid.NewString(), Version: Version, Quotes: all[:n]})
}
`;
}

export function goContainerfile(base) {
  return `# A Go HTTP service: Debian's golang-go in a builder stage, a slim runtime stage.
FROM ${base} AS build
RUN apt-get update && apt-get install -y --no-install-recommends golang-go && rm -rf /var/lib/apt/lists/*
ENV GOPATH=/go CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
RUN go vet ./... && go build -ldflags=-s -o /out/quotes .

FROM ${base}
COPY --from=build /out/quotes /usr/local/bin/quotes
USER nobody
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/quotes"]
`;
}

const NODE_PACKAGE = {
  name: 'greeter',
  version: '1.0.0',
  private: true,
  main: 'server.js',
  dependencies: { express: '4.21.2', 'body-parser': '1.20.3', morgan: '1.10.0', 'http-errors': '2.0.0' },
};

/** The file the one-file-changed mode edits. */
export const NODE_EDITED = 'server.js';

export function nodeServer(version) {
  return `'use strict';
// Version changes in the benchmark's one-file-changed mode.
const VERSION = ${JSON.stringify(version)};
const express = require('express');
const bodyParser = require('body-parser');
const morgan = require('morgan');
const createError = require('http-errors');

const app = express();
app.use(bodyParser.json());
if (!process.argv.includes('--selftest')) app.use(morgan('tiny'));
app.get('/healthz', (_req, res) => res.send('ok'));
app.post('/greet', (req, res, next) => {
  if (typeof req.body?.name !== 'string') return next(createError(400, 'name missing'));
  res.json({ greeting: \`hello, \${req.body.name}\`, version: VERSION });
});

const server = app.listen(process.argv.includes('--selftest') ? 0 : 8080, async () => {
  if (!process.argv.includes('--selftest')) return;
  const { port } = server.address();
  const r = await fetch(\`http://127.0.0.1:\${port}/greet\`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) });
  const body = await r.json();
  server.close();
  if (r.status !== 200 || body.greeting !== 'hello, bench') { console.error('selftest:', r.status, body); process.exit(1); }
  console.log('selftest ok:', JSON.stringify(body));
});
`;
}

export function nodeContainerfile(base) {
  return `# An express app: npm ci (Debian's nodejs and npm) in a deps stage, nodejs only at run time.
FROM ${base} AS deps
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${base}
RUN apt-get update && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
USER nobody
EXPOSE 8080
CMD ["node", "server.js"]
`;
}

/**
 * package-lock.json for the node app, resolved once by the host's npm and
 * cached beside the bookworm base (keyed by package.json), so that every
 * run installs the same tree.
 */
async function nodeLockfile(pkgJson) {
  const key = createHash('sha256').update(pkgJson).digest('hex').slice(0, 12);
  const cached = join(FIXTURES, `node-lock-${key}.json`);
  if (existsSync(cached)) return readFileSync(cached, 'utf8');
  mkdirSync(FIXTURES, { recursive: true });
  const tmp = mkdtempSync(join(FIXTURES, 'node-lock-tmp-'));
  try {
    writeFileSync(join(tmp, 'package.json'), pkgJson);
    await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: tmp });
    const lock = readFileSync(join(tmp, 'package-lock.json'), 'utf8');
    writeFileSync(`${cached}.tmp`, lock);
    renameSync(`${cached}.tmp`, cached);
    return lock;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function writeTree(dir, files) {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

/**
 * Writes both services' contexts under `root`; returns {go, node}, each
 * {name, context, containerfile text, edited file, edit(version)}.
 */
export async function writeServices(root, base) {
  const goDir = join(root, 'go-quotes');
  writeTree(goDir, { 'go.mod': GO_MOD, 'go.sum': GO_SUM, 'main.go': GO_MAIN, [GO_EDITED]: goQuotes('v0'), '.dockerignore': 'Containerfile\n' });
  const nodeDir = join(root, 'node-greeter');
  const pkgJson = `${JSON.stringify(NODE_PACKAGE, null, 2)}\n`;
  writeTree(nodeDir, { 'package.json': pkgJson, 'package-lock.json': await nodeLockfile(pkgJson), [NODE_EDITED]: nodeServer('v0'), '.dockerignore': 'node_modules\n' });
  return {
    go: {
      name: 'go', context: goDir, containerfile: goContainerfile(base),
      edit: (v) => writeFileSync(join(goDir, GO_EDITED), goQuotes(v)),
      selftest: ['-selftest'],
    },
    node: {
      name: 'node', context: nodeDir, containerfile: nodeContainerfile(base),
      edit: (v) => writeFileSync(join(nodeDir, NODE_EDITED), nodeServer(v)),
      selftest: ['node', 'server.js', '--selftest'],
    },
  };
}
