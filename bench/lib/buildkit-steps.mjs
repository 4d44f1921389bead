// Where BuildKit's time goes, from `docker build --progress plain` (the
// builder's stderr), so that real-service can put its step times beside
// tsbuild's. The plain printer names each vertex once per stretch of its
// output (`#5 [build 2/7] RUN apt-get ...`, again when another vertex
// printed in between) and ends it with `#5 DONE 15.3s`, `#5 CACHED` or
// `#5 ERROR: ...`. Vertices in brackets with a stage (`[build 2/7]`) are
// steps; `[internal] ...` (context, Dockerfile, metadata), the FROM pull
// and `exporting to image` are what BuildKit does outside steps. Vertex
// times overlap when stages run in parallel, as tsbuild's do.

const HEADER = /^#(\d+) (\[[^\]]+\] .*|exporting to image)$/;
const DONE = /^#(\d+) DONE (\d+(?:\.\d+)?)s$/;
const CACHED = /^#(\d+) CACHED$/;

/**
 * `[build 2/7] RUN go build` → {stage: 'build', text: 'RUN go build', isStep};
 * `[internal] load …` → {stage: 'internal'}. A one-stage build prints no
 * stage name (`[2/2] RUN true`): that is stage 0, as tsbuild numbers it.
 */
function splitName(name) {
  const m = /^\[([^\]]+)\] (.*)$/.exec(name);
  if (!m) return { stage: '', text: name, isStep: false };
  const pos = /^(?:(.*?)\s+)?\d+\/\d+$/.exec(m[1]);
  if (!pos) return { stage: m[1], text: m[2], isStep: false };
  return { stage: pos[1] ?? 'stage-0', text: m[2], isStep: true };
}

/**
 * One build's stderr → {steps: [{stage, text, kind, ms}], outside: [{text, ms}],
 * cached, stepsMs}: steps are RUN/COPY/ADD/WORKDIR vertices that ran
 * (the FROM vertex, i.e. resolving and pulling the base, counts as outside).
 */
export function buildkitStepsOf(stderr) {
  const names = new Map();
  const ms = new Map();
  const cachedIds = new Set();
  for (const raw of stderr.split('\n')) {
    const line = raw.trimEnd();
    let m = DONE.exec(line);
    if (m) { ms.set(m[1], Number(m[2]) * 1000); continue; }
    m = CACHED.exec(line);
    if (m) { cachedIds.add(m[1]); continue; }
    m = HEADER.exec(line);
    if (m && !names.has(m[1])) names.set(m[1], m[2]);
  }
  const steps = [];
  const outside = [];
  for (const [id, name] of names) {
    // A vertex with a DONE ran (the FROM prints DONE for the pull, then CACHED when a second stage reaches it).
    if (!ms.has(id)) continue;
    const { stage, text, isStep } = splitName(name);
    const kind = text.split(/\s+/)[0].toUpperCase();
    if (isStep && kind !== 'FROM') steps.push({ stage, text: `${stage}: ${text}`, kind, ms: ms.get(id) });
    else outside.push({ text: stage ? `[${stage}] ${text}` : text, ms: ms.get(id) });
  }
  return { steps, outside, cached: [...cachedIds].filter((id) => names.has(id) && !ms.has(id)).length, stepsMs: steps.reduce((a, s) => a + s.ms, 0) };
}

/** A step's text as both tools print it, for matching: instruction and its first words, spaces squeezed. */
export function stepMatchKey(text) {
  return text.replace(/\s+/g, ' ').trim().slice(0, 60).toLowerCase();
}
