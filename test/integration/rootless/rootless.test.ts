// Rootless mode end to end (issue 14): a real unprivileged user with its
// own subordinate ranges builds a multi-step Containerfile (COPY --chown,
// RUN chown, a cache mount, a setuid bit, a whiteout and an opaque dir),
// runs it, commits a container, pushes to the real registry; podman pulls
// and runs the result as root, and skopeo + a tar listing check the owners
// in the pushed layers. Rootless buildah, as the same user, is the oracle
// for the owners and the setuid bit.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, expectOneLineError, hostMountsMentioning, sleep, tempRoot, tsbuild, tsbuildBin } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { createTestUser, type TestUser } from './user.js';

const CONTAINERFILE = `FROM busybox:stable
COPY --chown=1000:1000 f.txt /home/f.txt
RUN --mount=type=cache,target=/cache echo x >> /cache/c && wc -l < /cache/c > /count
RUN touch /a0 /a1000 && chown 1000:1000 /a1000 && chmod 4755 /a0 && mkdir /opq && touch /opq/old /gone
RUN rm -rf /opq /gone && mkdir /opq && touch /opq/new && mkdir -p /d/sub && chown -R 1000:1000 /d
`;

let user: TestUser;
let registry: RegistryServer;
let work: string;
const podmanRefs: string[] = [];

/** uid/gid/mode of each path in the image, as a container sees them. */
const STAT = ['stat', '-c', '%n %u %g %a'];

function ok(r: ReturnType<TestUser['tsbuild']>): string {
  if (r.status !== 0) throw new Error(`exit ${r.status} (${r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** `path uid/gid mode` for every non-directory entry of each gzip layer of an OCI layout. */
function layerListing(layout: string): string[] {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const blob = (d: string) => join(layout, 'blobs', ...d.split(':'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const out: string[] = [];
  for (const l of manifest.layers) {
    // GNU tar as the listing oracle: `-rwsr-xr-x 0/0 0 date a0`.
    const text = execFileSync('tar', ['-tvzf', blob(l.digest)], { encoding: 'utf8' });
    for (const line of text.split('\n').filter(Boolean)) {
      const f = line.split(/\s+/);
      out.push(`${f.slice(5).join(' ')} ${f[1]} ${f[0]}`);
    }
  }
  return out;
}

beforeAll(async () => {
  registry = await startRegistry();
  user = createTestUser();
  work = join(user.home, 'ctx');
  mkdirSync(work);
  writeFileSync(join(work, 'f.txt'), 'hello\n');
  writeFileSync(join(work, 'Containerfile'), CONTAINERFILE);
  cpSync(busyboxLayout, join(user.home, 'bb'), { recursive: true });
  for (const p of [work, join(work, 'f.txt'), join(work, 'Containerfile')]) chownSync(p, user.uid, user.gid);
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, join(user.home, 'bb')]);
  ok(user.tsbuild(['load', '-i', join(user.home, 'bb')]));
});

afterAll(async () => {
  if (user) {
    user.tsbuild(['rm', '-f', 'rl-d']);
    user.remove();
  }
  if (podmanRefs.length) spawnSync('podman', ['rmi', '-f', '--ignore', ...podmanRefs]);
  await registry?.stop();
});

describe('rootless (an unprivileged user with subordinate ids)', () => {
  it('builds RUN steps whose files keep the owners RUN gave them, in the default store', () => {
    const r = user.tsbuild(['build', '-t', 'rl:1', '.'], { cwd: work });
    expect(r.stderr).not.toMatch(/Operation not permitted/);
    ok(r);
    // The contract's default store for a user, owned by the user.
    const store = join(user.home, '.local/share/tsbuild');
    expect(lstatSync(store).uid).toBe(user.uid);
    const out = ok(user.tsbuild(['run', '--rm', 'rl:1', ...STAT, '/home/f.txt', '/a0', '/a1000', '/d', '/d/sub', '/count']));
    expect(out.split('\n').filter(Boolean)).toEqual([
      '/home/f.txt 1000 1000 644', '/a0 0 0 4755', '/a1000 1000 1000 644', '/d 1000 1000 755', '/d/sub 1000 1000 755', '/count 0 0 644',
    ]);
    // The whiteout and the opaque directory took effect.
    expect(ok(user.tsbuild(['run', '--rm', 'rl:1', 'sh', '-c', 'ls /opq; ls /gone 2>&1 || true']))).toMatch(/^new\n.*No such file/);
  });

  it('keeps the cache mount between builds and reuses cached steps', () => {
    const again = user.tsbuild(['build', '--no-cache', '-t', 'rl:2', '.'], { cwd: work });
    ok(again);
    expect(ok(user.tsbuild(['run', '--rm', 'rl:2', 'cat', '/count']))).toBe('2\n');
    const cached = user.tsbuild(['build', '--progress', 'plain', '-t', 'rl:3', '.'], { cwd: work });
    expect(ok(cached)).toMatch(/^sha256:/);
    expect(cached.stderr).toMatch(/CACHED/);
  });

  it('matches rootless buildah: owners and the setuid bit of the same Containerfile', () => {
    const root = join(user.home, 'buildah');
    const run = join(user.home, 'buildah-run');
    const tmp = join(user.home, 'buildah-tmp');
    // Its cache mounts live under $TMPDIR (buildah-cache), which is root's /var/tmp by default.
    const b = (args: string[]) => user.run('buildah', ['--root', root, '--runroot', run, '--storage-driver', 'overlay', ...args], { cwd: work, timeout: 300_000, env: { TMPDIR: tmp } });
    user.run('mkdir', ['-p', tmp]);
    try {
      const id = b(['pull', '-q', `oci:${join(user.home, 'bb')}`]).stdout.trim().split('\n').at(-1) as string;
      expect(b(['tag', id, 'docker.io/library/busybox:stable']).status).toBe(0);
      const bud = b(['bud', '--runtime', '/usr/sbin/runc', '--pull=false', '-t', 'rlb', '.']);
      expect(bud.status, bud.stderr).toBe(0);
      const ctr = b(['from', '--pull=false', 'rlb']).stdout.trim();
      const theirs = b(['run', '--runtime', '/usr/sbin/runc', ctr, '--', ...STAT, '/home/f.txt', '/a0', '/a1000', '/d', '/d/sub']);
      expect(theirs.status, theirs.stderr).toBe(0);
      const ours = ok(user.tsbuild(['run', '--rm', 'rl:1', ...STAT, '/home/f.txt', '/a0', '/a1000', '/d', '/d/sub']));
      expect(ours).toBe(theirs.stdout);
    } finally {
      b(['rm', '-a']);
      user.run('buildah', ['--root', root, '--runroot', run, '--storage-driver', 'overlay', 'unshare', 'rm', '-rf', root, run, tmp]);
    }
  });

  it('skips device nodes of a layer as rootless buildah does; fifos and setuid bits stay', () => {
    // An image with devices, built by root (tsbuild, as root may make them) and saved as a layout.
    const { root, cleanup } = tempRoot('rootless-dev');
    const ctx = join(root, 'ctx');
    const layout = join(user.home, 'dev-layout');
    try {
      mkdirSync(ctx);
      writeFileSync(join(ctx, 'Containerfile'), 'FROM busybox:stable\nRUN mknod /cdev c 1 3 && mknod /bdev b 7 0 && mkfifo /fifo && touch /s && chmod 4755 /s\n');
      for (const args of [['load', '-i', busyboxLayout], ['build', '-t', 'devimg:1', ctx], ['save', '--format', 'oci-dir', '-o', layout, 'devimg:1']]) {
        const r = tsbuild(root, args);
        expect(r.status, r.stderr).toBe(0);
      }
    } finally {
      cleanup();
    }
    execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, layout]);
    ok(user.tsbuild(['load', '-i', layout]));
    const probe = ['sh', '-c', 'for f in /cdev /bdev /fifo /s; do if [ -e $f ]; then stat -c "%n %F %a" $f; else echo "$f missing"; fi; done'];
    const ours = ok(user.tsbuild(['run', '--rm', 'devimg:1', ...probe]));
    expect(ours).toBe('/cdev missing\n/bdev missing\n/fifo fifo 644\n/s regular empty file 4755\n');
    const broot = join(user.home, 'buildah-dev');
    const tmp = join(user.home, 'buildah-dev-tmp');
    user.run('mkdir', ['-p', tmp]);
    const b = (args: string[]) => user.run('buildah', ['--root', broot, '--runroot', `${broot}-run`, '--storage-driver', 'overlay', ...args], { timeout: 300_000, env: { TMPDIR: tmp } });
    try {
      const id = b(['pull', '-q', `oci:${layout}`]).stdout.trim().split('\n').at(-1) as string;
      const ctr = b(['from', '--pull=false', id]).stdout.trim();
      const theirs = b(['run', '--runtime', '/usr/sbin/runc', ctr, '--', ...probe]);
      expect(theirs.status, theirs.stderr).toBe(0);
      expect(ours).toBe(theirs.stdout);
    } finally {
      b(['rm', '-a']);
      user.run('buildah', ['--root', broot, '--runroot', `${broot}-run`, '--storage-driver', 'overlay', 'unshare', 'rm', '-rf', broot, `${broot}-run`, tmp, layout]);
    }
  });

  it('runs detached, execs into it, commits it, pushes; podman runs it as root and skopeo sees the owners', async () => {
    ok(user.tsbuild(['run', '-d', '--name', 'rl-d', 'rl:1', 'sleep', '600']));
    ok(user.tsbuild(['exec', 'rl-d', 'sh', '-c', 'echo hi > /x && chown 1000:1000 /x && mknod /p p']));
    expect(ok(user.tsbuild(['exec', '-u', '1000', 'rl-d', 'id', '-u']))).toBe('1000\n');
    ok(user.tsbuild(['commit', 'rl-d', 'rl-committed:1']));
    ok(user.tsbuild(['rm', '-f', 'rl-d']));
    const ref = `${registry.host}/rootless/committed:1`;
    ok(user.tsbuild(['push', 'rl-committed:1', ref]));
    // podman, as root, pulls and runs what the rootless user pushed.
    podmanRefs.push(ref);
    const p = spawnSync('podman', ['--runtime', '/usr/sbin/runc', 'run', '--rm', '--tls-verify=false', '--network', 'none', ref, ...STAT, '/x', '/a0', '/a1000', '/home/f.txt'], { encoding: 'utf8', timeout: 180_000 });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout.split('\n').filter(Boolean)).toEqual(['/x 1000 1000 644', '/a0 0 0 4755', '/a1000 1000 1000 644', '/home/f.txt 1000 1000 644']);
    // skopeo copies the pushed image to a layout; GNU tar lists each layer.
    const layout = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-skopeo-'));
    try {
      execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:x`], { timeout: 120_000 });
      const listing = layerListing(layout);
      expect(listing).toContain('a0 0/0 -rwsr-xr-x');
      expect(listing).toContain('a1000 1000/1000 -rw-r--r--');
      expect(listing).toContain('home/f.txt 1000/1000 -rw-r--r--');
      expect(listing).toContain('x 1000/1000 -rw-r--r--');
      expect(listing).toContain('p 0/0 prw-r--r--');
      expect(listing).toContain('opq/.wh..wh..opq 0/0 -rw-r--r--');
      expect(listing).toContain('.wh.gone 0/0 -rw-r--r--');
    } finally {
      rmSync(layout, { recursive: true, force: true });
    }
  });

  it('pulls, saves and loads rootless', () => {
    ok(user.tsbuild(['rmi', 'rl-committed:1']));
    ok(user.tsbuild(['pull', `${registry.host}/rootless/committed:1`]));
    const archive = join(user.home, 'x.tar');
    ok(user.tsbuild(['save', '--format', 'oci-archive', '-o', archive, `${registry.host}/rootless/committed:1`]));
    ok(user.tsbuild(['rmi', `${registry.host}/rootless/committed:1`]));
    ok(user.tsbuild(['load', '-i', archive]));
    expect(ok(user.tsbuild(['run', '--rm', `${registry.host}/rootless/committed:1`, 'cat', '/x']))).toBe('hi\n');
  });

  it('runs an interactive shell through a real terminal', async () => {
    const session = `tsbrl${process.pid}`;
    const cmd = `runuser -u ${user.name} -- env HOME=${user.home} ${process.execPath} ${tsbuildBin} run --rm -it rl:1 /bin/sh`;
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '90', '-y', '25', cmd]);
    const screen = () => execFileSync('tmux', ['capture-pane', '-t', session, '-p'], { encoding: 'utf8' });
    try {
      let s = '';
      for (let i = 0; i < 100 && !s.includes('/ #'); i++) { await sleep(100); s = screen(); }
      execFileSync('tmux', ['send-keys', '-t', session, 'id -u; stty size', 'Enter']);
      for (let i = 0; i < 100 && !/^25 90$/m.test(s); i++) { await sleep(100); s = screen(); }
      expect(s).toMatch(/^0$/m);
      expect(s).toMatch(/^25 90$/m);
      execFileSync('tmux', ['send-keys', '-t', session, 'exit', 'Enter']);
    } finally {
      for (let i = 0; i < 50 && spawnSync('tmux', ['has-session', '-t', session]).status === 0; i++) await sleep(100);
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  });

  async function foreground(name: string, cmd: string[]) {
    const fg = user.spawn(process.execPath, [tsbuildBin, 'run', '--rm', '--name', name, 'rl:1', ...cmd]);
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => fg.on('close', (code, signal) => resolve({ code, signal })));
    let running = '';
    for (let i = 0; i < 100 && !running.includes(name); i++) { await sleep(100); running = user.tsbuild(['ps']).stdout; }
    expect(running).toContain(name);
    // The CLI outside the namespace is runuser's child; the one inside is its child.
    const outer = Number(spawnSync('ps', ['-o', 'pid=', '--ppid', String(fg.pid)], { encoding: 'utf8' }).stdout.trim());
    expect(outer).toBeGreaterThan(0);
    return { outer, done };
  }

  async function expectNoProcessesLeft(): Promise<void> {
    const left = () => spawnSync('ps', ['-u', user.name, '-o', 'pid=,args='], { encoding: 'utf8' }).stdout.trim();
    for (let i = 0; i < 50 && left() !== ''; i++) await sleep(100);
    expect(left()).toBe('');
  }

  it('execs into a foreground container of another CLI, and forwards a SIGTERM to it', async () => {
    const { outer, done } = await foreground('rl-fg', ['sh', '-c', 'trap "exit 3" TERM; sleep 600 & wait']);
    expect(ok(user.tsbuild(['exec', 'rl-fg', 'sh', '-c', 'id -u; cat /proc/1/cmdline'])).replaceAll('\0', ' ')).toMatch(/^0\nsh -c trap/);
    process.kill(outer, 'SIGTERM');
    expect((await done).code).toBe(3);
    await expectNoProcessesLeft();
    expect(ok(user.tsbuild(['ps', '-a', '-q']))).toBe('');
  });

  it('after kill -9 of the CLI, the container dies too and the next start cleans up', async () => {
    const { outer, done } = await foreground('rl-k9', ['sleep', '600']);
    process.kill(outer, 'SIGKILL');
    await done;
    await expectNoProcessesLeft();
    expect(ok(user.tsbuild(['ps', '-a', '-q']))).toBe('');
    expect(readdirSync(join(user.home, '.local/share/tsbuild/containers'))).toEqual([]);
  });

  it('runs with --network none (loopback only) and host', () => {
    const names = (dev: string) => dev.split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0]).sort();
    const none = ok(user.tsbuild(['run', '--rm', '--network', 'none', 'rl:1', 'cat', '/proc/net/dev']));
    expect(names(none)).toEqual(['lo']);
    const host = ok(user.tsbuild(['run', '--rm', '--network', 'host', 'rl:1', 'cat', '/proc/net/dev']));
    expect(names(host)).toEqual(names(readFileSync('/proc/net/dev', 'utf8')));
    expect(names(host).length).toBeGreaterThan(1);
  });

  it('refuses limit flags in one line that says why (cgroup v1 is not delegated)', () => {
    for (const flags of [['--memory', '64m'], ['--cpus', '0.5'], ['--pids-limit', '10']]) {
      const r = user.tsbuild(['run', '--rm', ...flags, 'rl:1', 'true']);
      expect(r.status).toBe(125);
      expectOneLineError(r.stderr);
      expect(r.stderr).toMatch(new RegExp(`rootless: ${flags[0]} needs a cgroup: .*cgroup v1`));
    }
  });

  it('leaves no mount, no process and nothing owned by root in the home', () => {
    expect(ok(user.tsbuild(['ps', '-a', '-q']))).toBe('');
    expect(hostMountsMentioning(user.home)).toEqual([]);
    expect(spawnSync('ps', ['-u', user.name, '-o', 'pid='], { encoding: 'utf8' }).stdout.trim()).toBe('');
    const rootOwned: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = lstatSync(p);
        if (st.uid === 0 || st.gid === 0) rootOwned.push(p);
        // The store's layers hold subordinate ids (as buildah's do); nothing there is host root's.
        if (st.isDirectory()) walk(p);
      }
    };
    walk(user.home);
    expect(rootOwned).toEqual([]);
    // Nor anything of the user's outside its home (rootless buildah's runtime dirs are in XDG_RUNTIME_DIR and TMPDIR there).
    for (const dir of ['/tmp', '/var/tmp']) {
      expect(readdirSync(dir).filter((n) => { try { return lstatSync(join(dir, n)).uid === user.uid; } catch { return false; } })).toEqual([]);
    }
  });
});
