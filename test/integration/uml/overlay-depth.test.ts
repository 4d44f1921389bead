// Deep overlay stacks on a kernel without `lowerdir+` (issue 9): Linux 6.1
// in a user-mode-linux guest has overlayfs without an fs_context parser, so
// the mount API's create fails there and the runtime must fall back by
// itself to mount(2) with each layer named by an fd (crates/native/src/
// overlay.rs). 80 RUN steps stack 81 lower dirs, twice what a `lowerdir=`
// of absolute store paths fits in mount(2)'s one page (the old failure came
// at step 37).
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout } from '../fixtures.js';
import { LINUX_UML, runInGuest, type GuestResult } from './guest.js';

const STEPS = 80;
const script = `
set -u
uname -r | sed 's/^/kernel=/'
tsbuild load -i ${busyboxLayout} >/dev/null || { echo "load failed"; exit 10; }
mkdir -p /tmp/deep
{ echo 'FROM docker.io/library/busybox:stable'; for i in $(seq ${STEPS}); do echo "RUN echo $i > /f$i"; done; } > /tmp/deep/Containerfile
tsbuild build -t deep:1 /tmp/deep >/dev/null 2>/tmp/deep.err; echo "build.status=$?"
sed 's/^/build.stderr=/' /tmp/deep.err | tail -3
echo "run=$(tsbuild run --rm deep:1 cat /f1 /f${STEPS} | tr '\\n' ,)"
echo "root=$(tsbuild run --rm deep:1 sh -c 'grep " / overlay " /proc/mounts' | grep -o 'lowerdir=[^,]*' | tr ':' '\\n' | wc -l)"
echo "end.overlays=$(grep -c ' overlay ' /proc/mounts)"
`;

let guest: GuestResult;
const value = (key: string): string => guest.output.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1) ?? '';

beforeAll(async () => {
  expect(existsSync(LINUX_UML), `${LINUX_UML} (Debian's user-mode-linux) is missing`).toBe(true);
  guest = await runInGuest(script, { expose: [busyboxLayout], timeoutMs: 540_000 });
}, 600_000);

describe('deep overlay stacks on Linux 6.1 (user-mode-linux guest)', () => {
  it(`builds and runs a ${STEPS}-step image through the mount(2) fallback`, () => {
    expect(guest.status, guest.console).toBe(0);
    expect(value('kernel')).toMatch(/^6\.1\./);
    expect(value('build.status'), guest.output).toBe('0');
    expect(value('run')).toBe(`1,${STEPS},`);
    // The container's root: the init layer plus every image layer, each an fd number.
    expect(Number(value('root'))).toBe(STEPS + 2);
    expect(value('end.overlays')).toBe('0');
  });
});
